"""Personal data: keyed pseudonyms, the suppression list, erasure on request and retention."""
