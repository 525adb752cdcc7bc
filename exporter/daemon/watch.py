"""Follows the config file: reload on SIGHUP or when its contents change, never dying."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from exporter.yamlfile import fingerprint

log = logging.getLogger("exporter.daemon")

WATCH_SECONDS = 5.0


class ConfigWatcher:
    """Calls `reload` when asked or when the file changed since the last reload looked."""

    def __init__(
        self, path: str | None, reload: Callable[[], object], failed: Callable[[], object]
    ) -> None:
        self.path = path
        self.seen = fingerprint(path)
        self._reload = reload
        self._failed = failed

    def changed(self) -> bool:
        """True when the file now differs from what the last reload read."""
        current = fingerprint(self.path)
        return current is not None and current != self.seen

    def follow(self, asked: threading.Event, stopped: threading.Event) -> None:
        """Reload on SIGHUP (`asked`) and on change until `stopped`.

        Runs on its own thread, so a slow reload never keeps the main thread from a SIGTERM.
        Nothing but the daemon stopping ends this loop: a reload that fails in any way (even
        MemoryError) is logged and counted as failed, and later edits still apply.
        """
        while not stopped.is_set():
            asked.wait(WATCH_SECONDS)
            if stopped.is_set():
                return
            try:
                if asked.is_set() or self.changed():
                    asked.clear()
                    self._reload()
            except SystemExit:
                raise
            except BaseException:  # a MemoryError or a bug must not end the watch silently
                self._crashed()

    def _crashed(self) -> None:
        """Count an unexpected reload failure; logging it must not fail the loop in turn."""
        self._failed()
        with contextlib.suppress(BaseException):
            log.exception("config reload failed unexpectedly; keeping the running config")
