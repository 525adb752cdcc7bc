"""Daemon: wires the stages together and runs them: runtime, reload, signals, readiness."""

from exporter.daemon.daemon import Daemon

__all__ = ["Daemon"]
