"""The redis: and web: keys: where the streams live and where /metrics listens."""

import os
import re
from typing import Annotated, Self
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from exporter.config.keys import ConfigError, Section
from exporter.config.scalars import (
    AtMostFiveSeconds,
    Duration,
    File,
    OptionalText,
    PositiveInt,
    Text,
)

_SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
# An idle XREAD BLOCK answers block after it was sent, plus a network round trip and Redis's
# timer tick (up to 100ms at its default hz 10): within socket_timeout with this to spare.
BLOCK_MARGIN_MS = 500
DEFAULT_PORT = 6379  # redis-py's, with TLS too


def redis_url(url: str) -> str:
    """Errors never echo the URL: it may hold a password."""
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ConfigError(
            "",
            "must start with redis://, rediss:// or (for a Redis Cluster) "
            "redis+cluster:// or rediss+cluster://",
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise ConfigError("", f"invalid port ({exc})") from None
    if not parts.hostname:
        raise ConfigError("", "must name a host, e.g. redis://localhost:6379/0")
    # redis-py reads a path it cannot parse as database 0: /l typed for /1 read another db
    database = _database(parts)
    if database and not (database.isascii() and database.isdigit()):
        raise ConfigError("", "invalid database: the path must be a number, e.g. /0")
    return url


def _database(parts: SplitResult) -> str:
    """The database as redis-py reads it ("" when none): a db in the query wins over the path,
    which is unquoted and stripped of its slashes."""
    query = parse_qs(parts.query).get("db")
    return query[-1] if query else unquote(parts.path).replace("/", "")


def server_of(url: str) -> tuple[object, ...]:
    """What of a URL picks the server and db, one spelling for all: scheme and host in any
    case, the default port and db written or not. No DNS: localhost and 127.0.0.1 stay apart."""
    parts = urlsplit(url)
    database = _database(parts) or "0"
    host, port = (parts.hostname or "").lower(), parts.port or DEFAULT_PORT
    account = (parts.username, parts.password)
    params = sorted((k, v) for k, v in parse_qs(parts.query).items() if k != "db")
    db = int(database) if database.isdigit() else database
    return parts.scheme.lower(), account, host, port, db, params


def secret(value: object) -> str | None:
    """Unlike other values, a secret is never echoed in an error."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError("", "must be a string (quote it in YAML)")
    return value


def regular_file(value: str | None) -> str | None:
    """OpenSSL reads Redis TLS files at every connection, without a timeout: a FIFO there would
    hang the stream reader, and a device would feed it without end."""
    if value is not None and os.path.exists(value) and not os.path.isfile(value):
        raise ConfigError("", f"not a regular file: {value}")
    return value


def existing_file(value: str | None, info: ValidationInfo) -> str | None:
    """A mounted Secret that is missing should fail at startup, not at the first connection."""
    if value is not None and info.context is not None and not os.path.isfile(value):
        raise ConfigError("", f"no such file: {value}")
    return value


# 0 to 65535, for the schema; read_listen_address checks it
_PORT = r"(?:[0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"


def read_listen_address(address: str) -> str:
    """HOST:PORT (host may be empty or bracketed IPv6); port 0 picks a free one, as tests need."""
    host, _, port = address.rpartition(":")
    if not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        reason = f"must be HOST:PORT with a port from 0 to 65535, got {address!r}"
        raise ConfigError("", reason)
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        reason = f"IPv6 hosts must be in brackets, e.g. [::]:10135, got {address!r}"
        raise ConfigError("", reason)
    return address


def read_external_url(value: str) -> str:
    """Links in alerts start with it, so it must be absolute."""
    url = value.rstrip("/")
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ConfigError("", f"must be an http:// or https:// URL, got {url!r}")
    return url


TLSFile = Annotated[File, AfterValidator(regular_file)]


class TLSConfig(Section):
    """TLS files for the Redis connection; all optional."""

    ca_file: TLSFile = None
    """CA bundle that signed the server's certificate; relative to the config file."""
    cert_file: TLSFile = None
    """Client certificate, for mutual TLS; relative to the config file."""
    key_file: TLSFile = None
    """Private key of the client certificate; relative to the config file."""


class RedisConfig(Section):
    """Redis connection settings."""

    url: Annotated[Text, AfterValidator(redis_url)] = "redis://localhost:6379/0"
    """redis://, rediss:// (TLS), or redis+cluster:// / rediss+cluster:// for a Redis Cluster."""
    username: OptionalText = None
    """ACL user name; empty or null means the default user."""
    password: Annotated[str | None, BeforeValidator(secret)] = Field(None, repr=False)
    """AUTH password; empty or null means none."""
    password_file: Annotated[File, AfterValidator(existing_file)] = None
    """File holding the AUTH password (a mounted Secret), read at each connection."""
    tls: TLSConfig = Field(default_factory=TLSConfig)
    """TLS files; only allowed with a rediss:// URL."""
    socket_timeout_seconds: Duration = Field(5.0, alias="socket_timeout")
    """Timeout of connecting and of each command."""
    read_count: PositiveInt = 4000
    """Largest number of stream entries fetched per XREAD call."""
    block_seconds: Duration = Field(1.0, alias="block")
    """How long one XREAD waits for new entries (at least 1ms)."""
    linger_seconds: AtMostFiveSeconds | None = Field(0.1, alias="linger")
    """After a read that caught up, wait this long (at most 5s) so a trickle of records is
    read in batches: far less CPU per record, this much later on /metrics; null: read at once."""
    backoff_max_seconds: Duration = Field(30.0, alias="backoff_max")
    """Ceiling of the exponential back-off between reconnect attempts."""
    check_interval_seconds: Duration = Field(5.0, alias="check_interval")
    """How often each stream's lag and trimmed entries are measured (at least 100ms)."""

    @property
    def block_ms(self) -> int:
        """XREAD counts its BLOCK in milliseconds."""
        return round(self.block_seconds * 1000)

    def same_server(self, other: Self) -> bool:
        """Whether other reaches the same data: a reload then keeps the windows and the
        readers' positions, whatever read tuning (read_count, block, linger...) changed."""
        keys = ("username", "password", "password_file", "tls")
        same = all(getattr(self, key) == getattr(other, key) for key in keys)
        return same and server_of(self.url) == server_of(other.url)

    def same_client(self, other: Self) -> bool:
        """Whether a client made for self serves other unchanged."""
        return (
            self.same_server(other) and self.socket_timeout_seconds == other.socket_timeout_seconds
        )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.block_seconds < 0.001:
            raise ConfigError("block", f"must be at least 1ms, got {self.block_seconds}s")
        blocks = "+cluster://" not in self.url  # a cluster's reads never block (see reader)
        if blocks and self.block_ms + BLOCK_MARGIN_MS > round(self.socket_timeout_seconds * 1000):
            raise ConfigError(
                "block", _block_reason(self.block_seconds, self.socket_timeout_seconds)
            )
        if self.linger_seconds is not None and self.linger_seconds > 5.0:
            raise ConfigError("linger", f"must be at most 5s, got {self.linger_seconds}s")
        if self.check_interval_seconds < 0.1:
            check = self.check_interval_seconds
            raise ConfigError("check_interval", f"must be at least 100ms, got {check}s")
        if self.tls != TLSConfig() and not self.url.startswith(("rediss://", "rediss+cluster://")):
            reason = "is set, but redis.url does not use rediss:// or rediss+cluster://"
            raise ConfigError("tls", reason)  # files without TLS would silently go plain
        if self.password is not None and self.password_file is not None:
            raise ConfigError("password_file", "and redis.password are both set")
        return self


def _block_reason(block: float, socket_timeout: float) -> str:
    """redis-py times XREAD BLOCK out by socket_timeout: an idle Redis would read as down."""
    return (
        f"must be shorter than redis.socket_timeout by at least {BLOCK_MARGIN_MS}ms"
        f" (block {block}s, socket_timeout {socket_timeout}s): an XREAD waits up to block for"
        " new entries, and a command slower than socket_timeout counts as a Redis outage"
    )


class WebConfig(Section):
    """The HTTP listener for /metrics and the health endpoints."""

    listen_address: Annotated[
        Text,
        AfterValidator(read_listen_address),
        Field(json_schema_extra={"pattern": rf"^(?:\[.*\]|[^:]*):{_PORT}$|\$\{{"}),
    ] = "0.0.0.0:10135"
    """HOST:PORT to listen on (port 0 picks a free port); IPv6 hosts go in brackets."""
    external_url: Annotated[str, Field(strict=True), AfterValidator(read_external_url)] = ""
    """URL under which users reach the exporter (e.g. behind an ingress), for links in alerts."""
