"""Loggers across their process's life: forks, exits, and loggers dropped without close()."""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.util
import os
import weakref
from typing import Protocol

from exporter.client.sender import Sender

EXIT_FLUSH_SECONDS = 1.0


class Tracked(Protocol):
    """What the hooks need of a logger."""

    def _after_fork(self) -> None: ...

    def _flush_at_exit(self, timeout: float) -> None: ...


_live: weakref.WeakSet[Tracked] = weakref.WeakSet()
_retiring: set[Sender] = set()  # senders of dropped loggers, until their thread ends
_exit_hook_pid = [0]  # the process whose multiprocessing exit hook is registered


def track(logger: Tracked, sender: Sender) -> None:
    """Reset the logger in a forked child, flush it at exit, and if it is dropped unclosed let
    its thread send what is queued, close its connection and end."""
    _live.add(logger)
    weakref.finalize(logger, _retire, sender).atexit = False
    if multiprocessing.parent_process() is not None:  # built inside a multiprocessing child
        _register_mp_exit()


def _retire(sender: Sender) -> None:
    """The finalizer of a dropped logger: never blocks, whichever thread drops it."""
    for done in [s for s in list(_retiring) if not s.running]:
        _retiring.discard(done)
    if not sender.stopping:
        _retiring.add(sender)
        sender.retire()


def _flush_at_exit() -> None:
    """Give queued records a short chance to leave before the interpreter stops the thread."""
    for logger in list(_live):
        logger._flush_at_exit(EXIT_FLUSH_SECONDS)
    for sender in list(_retiring):
        sender.stop(EXIT_FLUSH_SECONDS)


def _register_mp_exit() -> None:
    """multiprocessing children end with os._exit, past atexit: only its exit hooks run."""
    if _exit_hook_pid[0] != os.getpid():
        _exit_hook_pid[0] = os.getpid()
        multiprocessing.util.Finalize(None, _flush_at_exit, exitpriority=10)


def _reset_in_child() -> None:
    for sender in list(_retiring):  # the parent's to finish; nothing of them to report here
        sender.stats.reset()
    _retiring.clear()
    for logger in list(_live):
        logger._after_fork()


class _ForkHook:
    """multiprocessing clears its exit hooks in each child it starts, then runs these."""

    def __call__(self, _: object) -> None:
        _register_mp_exit()


_fork_hook = _ForkHook()
os.register_at_fork(after_in_child=_reset_in_child)
multiprocessing.util.register_after_fork(_fork_hook, _fork_hook)
atexit.register(_flush_at_exit)
