"""Demo: an embedded Redis and a simulated producer to try the exporter in one command."""
