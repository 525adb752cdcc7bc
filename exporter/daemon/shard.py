"""Which replica owns which model: rendezvous hashing, so resizing moves few models."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from dataclasses import dataclass

from exporter.config import Config


@dataclass(frozen=True)
class Shard:
    """This replica's index among `count` replicas."""

    index: int = 0
    count: int = 1

    def owns(self, model: str) -> bool:
        """True when this replica scores highest for the model among all replicas."""
        return owner(model, self.count) == self.index

    def filter(self, config: Config) -> Config:
        """The config with only this replica's models."""
        if self.count == 1:
            return config
        owned = tuple(m for m in config.models if self.owns(m.name))
        return config.model_copy(update={"models": owned})


def _score(model: str, replica: int) -> int:
    digest = hashlib.blake2b(f"{model}\x00{replica}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(model: str, count: int) -> int:
    """The replica that owns a model: stable across restarts and processes."""
    return max(range(count), key=lambda replica: _score(model, replica))


def parse_shard(text: str, hostname: str | None = None) -> Shard:
    """INDEX/COUNT, where INDEX may be `auto`: the ordinal at the end of a StatefulSet pod name."""
    match = re.fullmatch(r"(\d+|auto)/(\d+)", text.strip())
    if match is None:
        raise ValueError(f"--shard: expected INDEX/COUNT (e.g. 0/3 or auto/3), got {text!r}")
    count = int(match.group(2))
    if match.group(1) == "auto":
        name = hostname if hostname is not None else _hostname()
        ordinal = re.search(r"-(\d+)$", name)
        if ordinal is None:
            raise ValueError(f"--shard=auto/{count}: hostname {name!r} does not end in -<ordinal>")
        index = int(ordinal.group(1))
    else:
        index = int(match.group(1))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard: index must be in 0..{count - 1}, got {text!r}")
    return Shard(index, count)


def _hostname() -> str:
    """$HOSTNAME as Kubernetes sets it; the kernel's name where it is not exported (systemd)."""
    return os.environ.get("HOSTNAME") or socket.gethostname()
