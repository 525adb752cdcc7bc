"""The producer library: log predictions and labels to the exporter's Redis streams.

Importing it pulls in redis, orjson and prometheus_client only: none of the evaluation stack.
"""

from exporter.client.logger import PredictionLogger
from exporter.client.metrics import DropReason
from exporter.client.monitor import Monitored, monitor

__all__ = ["DropReason", "Monitored", "PredictionLogger", "monitor"]
