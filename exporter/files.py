"""Read the files a config names without ever blocking on them or reading without end.

A path in a config may lead anywhere: `/dev/zero` never ends, a FIFO blocks the reader until
a writer comes (and a blocked main thread ignores SIGTERM), a directory or socket holds no
data, and a huge file exhausts memory. Every file the daemon reads at start-up or reload (the
config, references, the password and web config files) goes through `read_regular_file`, so
none of them can hang a reload or take the process down.
"""

from __future__ import annotations

import errno
import os
import stat

MiB = 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class RefusedFile(OSError):
    """A file that is not a regular file, or is larger than its limit; `strerror` says which."""


def describe_size(size: int) -> str:
    """A byte count as people read it: 4 MiB, 47.7 MiB, 64 KiB, 353 bytes."""
    for unit, name in ((MiB, "MiB"), (1024, "KiB")):
        if size >= unit:
            return f"{size // unit if size % unit == 0 else round(size / unit, 1)} {name}"
    return f"{size} bytes"


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def read_regular_file(path: str, limit: int) -> bytes:
    """The whole content of a regular file of at most `limit` bytes.

    The file is opened with O_NONBLOCK, so opening a FIFO returns at once, and checked with
    fstat on the open descriptor (no race with a swapped path) before a byte is read. Raises
    RefusedFile for anything else and for a file past the limit, even one still growing.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a Unix socket cannot be opened: say what it is
            raise RefusedFile(
                errno.ENXIO, f"{_kind(os.stat(path).st_mode)}, not a regular file", path
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RefusedFile(errno.EINVAL, f"{_kind(info.st_mode)}, not a regular file", path)
        if info.st_size > limit:
            raise _too_large(path, limit, describe_size(info.st_size))
        with open(fd, "rb", closefd=False) as handle:
            # st_size + 1 bytes: enough to notice a file that grew, or a /proc file (size 0)
            content = handle.read(info.st_size + 1)
            if len(content) > info.st_size:
                content += handle.read(limit + 1 - len(content))
            if len(content) > limit:
                raise _too_large(path, limit, "found while reading it")
            return content
    finally:
        os.close(fd)


def _too_large(path: str, limit: int, size: str) -> RefusedFile:
    return RefusedFile(errno.EFBIG, f"larger than the {describe_size(limit)} limit ({size})", path)
