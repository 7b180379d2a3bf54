"""Library code of cx-pipeline with no Dagster in it: settings, source contracts and readers, the landing
scan, warehouse and file helpers, report rendering, identity quality and the Spark catalog."""
