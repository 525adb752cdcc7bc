"""Reference: read a reference data set from a file or a Redis key into typed columns."""
