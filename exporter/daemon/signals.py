"""Signals as events a thread sets, and an exit deadline once the process is asked to stop.

A Python signal handler runs on the main thread between bytecodes: while the main thread
is stuck in a system call it never runs, and while the main thread holds a lock the handler
needs it deadlocks. So the handlers here do nothing; `signal.set_wakeup_fd` makes the C-level
handler write each signal's number to a socket at once, and a thread reading it sets plain
events. A stop request also starts a deadline: if the clean stop has not finished within
EXIT_DEADLINE_SECONDS, the process logs that and exits anyway, so SIGTERM always ends it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger("exporter.signals")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNAL = signal.SIGHUP
EXIT_DEADLINE_SECONDS = 10.0
EXIT_HUNG = 1  # the exit code when the deadline, not the clean stop, ended the process


def _noted(signum: int, frame: FrameType | None) -> None:
    """Nothing to do here: the wakeup socket already carries the signal to the thread."""


class SignalEvents:
    """SIGTERM/SIGINT set `stop` (and call `on_stop`), SIGHUP sets `reload`.

    `exit_process` is os._exit in production; tests pass a recorder to see the deadline fire.
    """

    def __init__(
        self,
        on_stop: Callable[[], None] = lambda: None,
        *,
        deadline: float = EXIT_DEADLINE_SECONDS,
        exit_process: Callable[[int], object] = os._exit,
    ) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self._finished = threading.Event()
        self._on_stop = on_stop
        self._deadline = deadline
        self._exit = exit_process
        self._inbox, self._outbox = socket.socketpair()

    @contextmanager
    def installed(self) -> Iterator[SignalEvents]:
        """Handle the signals while the block runs (main thread only); restore them after.

        Leaving the block means the clean stop finished, which cancels the exit deadline.
        """
        self._outbox.setblocking(False)
        watched = (*STOP_SIGNALS, RELOAD_SIGNAL)
        previous = {sig: signal.signal(sig, _noted) for sig in watched}
        old_fd = signal.set_wakeup_fd(self._outbox.fileno(), warn_on_full_buffer=False)
        thread = threading.Thread(target=self._dispatch, name="signals", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._finished.set()
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._outbox.shutdown(socket.SHUT_WR)  # the thread reads to the end, then returns
            thread.join(5.0)
            self._inbox.close()
            self._outbox.close()

    def _dispatch(self) -> None:
        """Turn each signal number read from the socket into its event, until the socket ends."""
        while True:
            try:
                received = self._inbox.recv(64)
            except OSError:
                return
            if not received:
                return
            for signum in received:
                if signum == RELOAD_SIGNAL:
                    self.reload.set()
                elif signum in STOP_SIGNALS and not self.stop.is_set():
                    self._stop_requested(signal.Signals(signum).name)

    def _stop_requested(self, name: str) -> None:
        """Ask for the clean stop, then wait for it, at most until the deadline."""
        log.info("%s received; stopping", name)
        self.stop.set()
        self._on_stop()
        if self._finished.wait(self._deadline):
            return
        log.error(
            "the clean stop did not finish within %ss of %s; exiting now", self._deadline, name
        )
        self._exit(EXIT_HUNG)
