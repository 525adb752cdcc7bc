"""The --web.config.file: TLS and basic auth for the listener, in the exporter-toolkit format."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from typing import Annotated

from pydantic import BeforeValidator, Field

from exporter.config.keys import ConfigError, Section, validate
from exporter.web.httpconfig import HTTPServerConfig, RateLimit
from exporter.web.tlsconfig import TLSServerConfig
from exporter.web.tlscontext import ssl_context
from exporter.yamlfile import parse_yaml, read_yaml_text

__all__ = [
    "BasicAuth",
    "HTTPServerConfig",
    "RateLimit",
    "TLSServerConfig",
    "WebSecurity",
    "bcrypt_cost",
    "load_web_config",
    "parse_web_config",
    "ssl_context",
]

try:  # the `web-auth` extra: only basic_auth_users needs it
    import bcrypt
except ModuleNotFoundError:  # basic auth then fails with require_bcrypt's message
    bcrypt = None  # type: ignore[assignment]

log = logging.getLogger("exporter.http")
MIN_COST, MAX_COST = 4, 31  # what bcrypt accepts
# $2a$, $2b$ or $2y$, a two-digit cost, then 22 characters of salt and 31 of hash in bcrypt's
# base64. The salt's last character carries 2 bits, so only 4 letters end a salt bcrypt reads.
_BCRYPT = re.compile(rb"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}")


def _describe(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _tls(value: object) -> object:
    """An empty tls_server_config means plain HTTP, as in the toolkit."""
    return None if value is None or value == {} else value


def require_bcrypt() -> None:
    """Basic auth checks passwords with bcrypt, which the `web-auth` extra installs."""
    if bcrypt is None:
        raise ConfigError(
            "", "needs bcrypt: pip install 'ml-monitoring-exporter[web-auth]' (the web-auth extra)"
        )


def _users(value: object) -> tuple[tuple[str, bytes], ...]:
    if isinstance(value, tuple):
        return value  # built in code, already pairs
    if not isinstance(value, dict):
        raise ConfigError("", f"must be a mapping of user to bcrypt hash, got {_describe(value)}")
    if value:
        require_bcrypt()
    users = []
    for user, hashed in value.items():
        if not isinstance(user, str) or not user or ":" in user:
            raise ConfigError(str(user), "user names must be non-empty strings without ':'")
        if not isinstance(hashed, str) or bcrypt_cost(hashed.encode()) is None:
            # The hash itself is never echoed: it is as good as a password to an offline attack.
            got = f"{len(hashed)} characters" if isinstance(hashed, str) else _describe(hashed)
            raise ConfigError(
                user,
                "must be a bcrypt hash of 60 characters ($2a$, $2b$ or $2y$, a cost of "
                f"{MIN_COST} to {MAX_COST}, $, then 53 of salt and hash), got {got}",
            )
        users.append((user, hashed.encode()))
    return tuple(users)


class WebSecurity(Section):
    """What the listener enforces; the default (no TLS, no users) is plain open HTTP."""

    tls: Annotated[TLSServerConfig | None, BeforeValidator(_tls)] = Field(
        None, alias="tls_server_config"
    )
    http: HTTPServerConfig = Field(HTTPServerConfig(), alias="http_server_config")
    rate_limit: RateLimit = RateLimit()
    users: Annotated[tuple[tuple[str, bytes], ...], BeforeValidator(_users)] = Field(
        (), alias="basic_auth_users"
    )


def load_web_config(path: str) -> WebSecurity:
    """Read a web config file; errors name the key path and never echo a hash.

    Read and parsed with the main config's limits (exporter.yamlfile).
    """
    try:
        raw = parse_yaml(read_yaml_text(path, "web config file"), path)
    except ConfigError as exc:
        raise ConfigError("--web.config.file", str(exc)) from None
    try:
        web = parse_web_config(raw, os.path.dirname(os.path.abspath(path)))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.path}", exc.reason) from None
    if web.http.http2:
        log.warning(
            "%s: http_server_config.http2: this server speaks HTTP/1.1 only (ALPN offers "
            "http/1.1), so HTTP/2 is not served",
            path,
        )
    return web


def parse_web_config(raw: object, base_dir: str) -> WebSecurity:
    """The whole file; relative file paths are taken from the file's directory, as in Go."""
    return validate(WebSecurity, raw, base_dir=base_dir)


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost (log2 rounds) of a whole bcrypt hash such as `$2b$12$...`; None when not one
    (a hash cut short never matches, so every password would be refused without a word)."""
    match = _BCRYPT.fullmatch(hashed)
    if match is None or not MIN_COST <= int(match[1]) <= MAX_COST:
        return None
    return int(match[1])


class BasicAuth:
    """Checks user:password against bcrypt hashes, remembering successes so scrapes stay cheap.

    An unknown user is checked against a dummy hash of the highest cost among the users, made
    once here: a wrong password then takes as long for a name that does not exist as for one
    that does, so timing does not enumerate users.
    """

    def __init__(self, users: tuple[tuple[str, bytes], ...]) -> None:
        self._users = dict(users)
        self._key = secrets.token_bytes(32)  # the cache holds keyed digests, never passwords
        self._verified: set[bytes] = set()
        self._unreadable: set[str] = set()  # users whose hash bcrypt refused, warned about once
        self._lock = threading.Lock()
        costs = {bcrypt_cost(hashed) or MIN_COST for hashed in self._users.values()}
        if len(costs) > 1:
            log.warning(
                "basic_auth_users hashes have different bcrypt costs (%s): a wrong "
                "password is answered faster for the cheaper users; hash them all "
                "with one cost",
                ", ".join(map(str, sorted(costs))),
            )
        self._dummy = b""  # without users check() is never called, and bcrypt may be absent
        if self._users:
            self._dummy = bcrypt.hashpw(
                secrets.token_hex(16).encode(), bcrypt.gensalt(rounds=max(costs, default=MIN_COST))
            )

    @property
    def enabled(self) -> bool:
        """True when any user is configured."""
        return bool(self._users)

    def check(self, user: str, password: str) -> bool:
        """True when the password matches the user's hash; unknown users cost a hash as well."""
        hashed = self._users.get(user)
        digest = hmac.new(
            self._key, b"\0".join([user.encode(), password.encode(), hashed or b""]), hashlib.sha256
        ).digest()
        with self._lock:
            if hashed is not None and digest in self._verified:
                return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed or self._dummy) and hashed is not None
        except ValueError as exc:  # a hash the config check let through: never matches
            self._warn_unreadable(user, exc)
            ok = False
        if ok:
            with self._lock:
                self._verified.add(digest)
        return ok

    def _warn_unreadable(self, user: str, exc: ValueError) -> None:
        """Say once per user why every one of its passwords is refused."""
        with self._lock:
            if user in self._unreadable:
                return
            self._unreadable.add(user)
        log.warning(
            "basic_auth_users.%s: bcrypt cannot check a password against its hash (%s): "
            "every password of this user is refused",
            user,
            exc,
        )
