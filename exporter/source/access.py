"""What the Redis user must be allowed, checked by `check-config --redis.connect`.

Without XINFO the daemon started, said ready and counted no trim; with a stream key outside
the user's key patterns it stopped every model. Each is cheaper to hear about before a
rollout than to find in the reader's warnings after it.
"""

from __future__ import annotations

import redis

from exporter.config import Config
from exporter.source.connect import RedisClient, describe

# What the reader runs on every stream key, each harmless on an empty or missing stream.
STREAM_COMMANDS = ("XINFO STREAM", "XREVRANGE", "XREAD")


def refused(client: RedisClient, config: Config) -> str | None:
    """Run each command the reader needs once: the first refused, named by its key path."""
    try:
        client.time()
    except redis.RedisError as exc:
        return f"redis.url: TIME: {describe(exc, config.redis)}"
    for model in config.models:
        for kind in ("predictions", "labels"):
            key = getattr(model.streams, kind)
            pipe = client.pipeline(transaction=False)
            pipe.xinfo_stream(key)
            pipe.xrevrange(key, count=1)
            pipe.xread({key: "$"}, count=1)
            for command, reply in zip(
                STREAM_COMMANDS, pipe.execute(raise_on_error=False), strict=True
            ):
                if isinstance(reply, Exception) and not _missing(reply):
                    return (
                        f"models[{model.name}].streams.{kind}: {command} {key}: "
                        f"{describe(reply, config.redis)}"
                    )
    return None


def _missing(error: Exception) -> bool:
    """XINFO's answer for a stream nobody has written yet: fine before the first record."""
    return isinstance(error, redis.ResponseError) and "no such key" in str(error).lower()
