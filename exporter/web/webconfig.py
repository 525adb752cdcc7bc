"""The --web.config.file: TLS and basic auth for the listener, in the exporter-toolkit format."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import ssl
import threading
from dataclasses import dataclass

import bcrypt

from exporter.config.document import parse_yaml, read_yaml_text
from exporter.config.values import ConfigError, describe, join, mapping, optional, string

WEB_CONFIG_KEYS = ("tls_server_config", "basic_auth_users")
TLS_SERVER_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
)
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
log = logging.getLogger("exporter.http")
_BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2y$")
MIN_COST, MAX_COST = 4, 31  # what bcrypt accepts


@dataclass(frozen=True)
class TLSServerConfig:
    """The listener's certificate and, optionally, the CA client certificates must chain to."""

    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str | None = None


@dataclass(frozen=True)
class WebSecurity:
    """What the listener enforces; the default (no TLS, no users) is plain open HTTP."""

    tls: TLSServerConfig | None = None
    users: tuple[tuple[str, bytes], ...] = ()


def load_web_config(path: str) -> WebSecurity:
    """Read a web config file; errors name the key path and never echo a hash.

    Read and parsed with the main config's limits (exporter.config.document).
    """
    try:
        raw = parse_yaml(read_yaml_text(path, "web config file"), path)
    except ConfigError as exc:
        raise ConfigError("--web.config.file", str(exc)) from None
    try:
        return parse_web_config(raw, os.path.dirname(os.path.abspath(path)))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.path}", exc.reason) from None


def parse_web_config(raw: object, base_dir: str) -> WebSecurity:
    """The whole file; relative file paths are taken from the file's directory, as in Go."""
    top = mapping(raw, "", WEB_CONFIG_KEYS)
    tls = optional(top, "", "tls_server_config", lambda v, p: _parse_tls(v, p, base_dir), None)
    no_users: tuple[tuple[str, bytes], ...] = ()
    users = optional(top, "", "basic_auth_users", _parse_users, no_users)
    return WebSecurity(tls=tls, users=users)


def _parse_tls(value: object, path: str, base_dir: str) -> TLSServerConfig:
    raw = mapping(value, path, TLS_SERVER_KEYS)

    def file(key: str, needed: bool) -> str | None:
        if key not in raw:
            if needed:
                raise ConfigError(join(path, key), "is required")
            return None
        text = string(raw[key], join(path, key))
        full = text if os.path.isabs(text) else os.path.join(base_dir, text)
        if not os.path.isfile(full):
            raise ConfigError(join(path, key), f"no such file: {full}")
        return full

    def choice(key: str, allowed: tuple[str, ...], fallback: str | None) -> str | None:
        if key not in raw:
            return fallback
        text = string(raw[key], join(path, key))
        if text not in allowed:
            raise ConfigError(join(path, key), f"must be one of {', '.join(allowed)}")
        return text

    auth = choice("client_auth_type", tuple(CLIENT_AUTH), "NoClientCert")
    ca = file("client_ca_file", False)
    if auth != "NoClientCert" and ca is None:
        raise ConfigError(join(path, "client_ca_file"), f"is required by {auth}")
    cert, key = file("cert_file", True), file("key_file", True)
    assert cert is not None and key is not None and auth is not None
    return TLSServerConfig(
        cert_file=cert,
        key_file=key,
        client_auth_type=auth,
        client_ca_file=ca,
        min_version=choice("min_version", tuple(TLS_VERSIONS), "TLS12") or "TLS12",
        max_version=choice("max_version", tuple(TLS_VERSIONS), None),
    )


def _parse_users(value: object, path: str) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(value, dict):
        raise ConfigError(path, f"must be a mapping of user to bcrypt hash, got {describe(value)}")
    users = []
    for user, hashed in value.items():
        where = join(path, str(user))
        if not isinstance(user, str) or not user or ":" in user:
            raise ConfigError(where, "user names must be non-empty strings without ':'")
        if not isinstance(hashed, str) or bcrypt_cost(hashed.encode()) is None:
            # The hash itself is never echoed: it is as good as a password to an offline attack.
            raise ConfigError(
                where,
                "must be a bcrypt hash ($2a$, $2b$ or $2y$, a cost of "
                f"{MIN_COST} to {MAX_COST}, then the salted hash)",
            )
        users.append((user, hashed.encode()))
    return tuple(users)


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost (log2 rounds) of a bcrypt hash such as `$2b$12$...`; None when not one."""
    cost = hashed[4:6]
    if (
        not hashed.startswith(_BCRYPT_PREFIXES)
        or hashed[6:7] != b"$"
        or not cost.isdigit()
        or not MIN_COST <= int(cost) <= MAX_COST
    ):
        return None
    return int(cost)


def ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """A server-side context enforcing the configured versions and client certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    if tls.max_version is not None:
        context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
        if tls.client_ca_file is not None:
            context.load_verify_locations(cafile=tls.client_ca_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError("tls_server_config", f"cannot load certificates: {exc}") from None
    context.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    return context


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
        self._lock = threading.Lock()
        costs = {bcrypt_cost(hashed) or MIN_COST for hashed in self._users.values()}
        if len(costs) > 1:
            log.warning(
                "basic_auth_users hashes have different bcrypt costs (%s): a wrong "
                "password is answered faster for the cheaper users; hash them all "
                "with one cost",
                ", ".join(map(str, sorted(costs))),
            )
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
        except ValueError:  # a malformed hash never matches
            ok = False
        if ok:
            with self._lock:
                self._verified.add(digest)
        return ok
