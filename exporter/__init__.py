"""ml-monitoring-exporter: drift, data quality and model performance from Redis streams."""

__version__ = "0.1.0"
