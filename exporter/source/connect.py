"""Redis clients for the configured URL, and error messages that name what to fix."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider
from redis.utils import HIREDIS_AVAILABLE

from exporter.config import RedisConfig
from exporter.files import read_regular_file
from exporter.source.replycap import CappedParser

# One server or a Redis Cluster: everything that reads streams or references takes either.
RedisClient: TypeAlias = redis.Redis | RedisCluster
# URL schemes that ask for a cluster client, and the scheme redis-py expects in their place.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
MAX_PASSWORD_FILE_BYTES = 64 * 1024  # a mounted Secret; a FIFO or /dev/zero must not hang us
AUTH_HINTS = (
    "noauth",
    "wrongpass",
    "invalid password",
    "unauthenticated",
    "invalid username",
    "authentication",
)


class PasswordFile(CredentialProvider):
    """Reads the password at each new connection, so a rotated mounted Secret is picked up."""

    def __init__(self, username: str | None, path: str) -> None:
        self._username = username
        self._path = path

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        """(password,) or (username, password); the file's trailing newline is not part of it."""
        try:
            content = read_regular_file(self._path, MAX_PASSWORD_FILE_BYTES)
            password = content.decode("utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise redis.AuthenticationError(
                f"cannot read redis.password_file {self._path}: {exc}"
            ) from None
        return (password,) if self._username is None else (self._username, password)


class TLSConnection(redis.SSLConnection):
    """Says what to check when the server drops a TLS session, instead of a bare OpenSSL EOF."""

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        """Send as usual; explain a refused TLS session."""
        try:
            super().send_packed_command(*args, **kwargs)  # type: ignore[no-untyped-call]
        except redis.ConnectionError as exc:
            raise _explained(exc) from None

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read as usual; explain a refused TLS session."""
        try:
            return super().read_response(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise _explained(exc) from None


def _explained(exc: redis.ConnectionError) -> redis.ConnectionError:
    if "ssl" not in str(exc).lower():
        return exc
    return redis.ConnectionError(
        f"{exc} - the server refused the TLS session: does it require a client certificate "
        "(redis.tls.cert_file, key_file), or not trust ours?"
    )


def make_client(cfg: RedisConfig) -> RedisClient:
    """A RESP2 client returning bytes: the cheapest replies for redis-py to post-process."""
    extra: dict[str, Any] = {}
    if cfg.tls.ca_file or cfg.tls.cert_file:
        extra = {
            "ssl_ca_certs": cfg.tls.ca_file,
            "ssl_certfile": cfg.tls.cert_file,
            "ssl_keyfile": cfg.tls.key_file,
        }
    if cfg.password_file is not None:
        extra["credential_provider"] = PasswordFile(cfg.username, cfg.password_file)
    else:
        extra.update(username=cfg.username, password=cfg.password)
    scheme, sep, rest = cfg.url.partition("://")
    if scheme in CLUSTER_SCHEMES:  # every key of a model shares its hash tag, so one node serves it
        return RedisCluster.from_url(
            f"{CLUSTER_SCHEMES[scheme]}{sep}{rest}",
            socket_timeout=cfg.socket_timeout_seconds,
            socket_connect_timeout=cfg.socket_timeout_seconds,
            protocol=2,
            decode_responses=False,
            **extra,
        )
    if scheme == "rediss":
        extra["connection_class"] = TLSConnection
    return redis.Redis.from_url(
        cfg.url,
        socket_timeout=cfg.socket_timeout_seconds,
        socket_connect_timeout=cfg.socket_timeout_seconds,
        protocol=2,
        decode_responses=False,
        **({"parser_class": CappedParser} if HIREDIS_AVAILABLE else {}),  # caps reply bytes
        **extra,
    )


def redacted_url(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or ""):
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def is_auth_error(exc: BaseException) -> bool:
    """True when Redis refused our credentials, whatever words the server or client chose."""
    if isinstance(exc, redis.AuthenticationError):
        return True
    return isinstance(exc, redis.RedisError) and any(h in str(exc).lower() for h in AUTH_HINTS)


def rejected(exc: BaseException) -> bool:
    """Redis answered, refusing the request itself (an invalid stream ID): a bug in the
    exporter, not an outage to wait out. Refusals of the user, and replies that Redis is busy,
    loading or its cluster down (their own classes, or BUSY), are not."""
    exact = type(exc) is redis.ResponseError  # a subclass names a known server state
    return exact and not str(exc).startswith("BUSY") and not is_auth_error(exc)


def down_because(exc: BaseException) -> str:
    """Why Redis is out of reach, for /readyz: a refusal is fixed elsewhere than an outage."""
    if isinstance(exc, redis.exceptions.NoPermissionError):  # first: it names the user
        return "redis refuses a command to the user (see the log)"
    if is_auth_error(exc):
        return "redis refuses the credentials (see the log)"
    if rejected(exc):
        return "redis rejects the exporter's requests (see the log)"
    return "redis unreachable"


def report_failure(log: logging.Logger, exc: BaseException, cfg: RedisConfig) -> None:
    """Log a failed read: a rejected request at error level, in Redis's words. Every failure
    read as "redis unavailable", so a negative stream ID looked like an outage behind a PING
    that worked."""
    if rejected(exc):
        log.error("redis rejects the exporter's request, retrying: %s", describe(exc, cfg))
    else:
        log.warning("redis unavailable, retrying: %s", describe(exc, cfg))


def describe(exc: BaseException, cfg: RedisConfig, key: str | None = None) -> str:
    """A Redis failure as one line naming the URL (password redacted) and the config key."""
    where = f"redis at {redacted_url(cfg.url)}"
    if key is not None:
        where += f" (key {key})"
    if is_auth_error(exc):
        how = "redis.password_file" if cfg.password_file else "redis.username / redis.password"
        return f"{where}: authentication failed: check {how} ({exc})"
    return f"{where}: {exc}"
