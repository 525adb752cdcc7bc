"""Expose: the metric catalog, the live counters and the collector that renders snapshots."""
