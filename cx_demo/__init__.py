"""The demo export generator: a simulated DACH retailer's customers and their exports (`cx demo-data`)."""
