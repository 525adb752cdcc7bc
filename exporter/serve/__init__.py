"""Serve: the metric catalog, the collector and the HTTP endpoints."""
