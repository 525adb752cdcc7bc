"""The --web.config.file: TLS and basic auth for the listener, in the exporter-toolkit format."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import ssl
import threading
from collections.abc import Iterable
from typing import Annotated, Self

import bcrypt
from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from exporter.config.keys import ConfigError, Section, describe, validate
from exporter.config.scalars import text
from exporter.yamlfile import parse_yaml, read_yaml_text

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


def _one_of(allowed: Iterable[str]) -> BeforeValidator:
    """A reader of one of allowed, in the exporter-toolkit's wording."""

    def read(value: object) -> str:
        if (found := text(value)) not in allowed:
            raise ConfigError("", f"must be one of {', '.join(allowed)}")
        return found

    return BeforeValidator(read)


def _server_file(value: object, info: ValidationInfo) -> str:
    """Relative paths are taken from the file's directory, as in Go; the file must exist."""
    found = text(value)
    if info.context is None:
        return found
    full = found if os.path.isabs(found) else os.path.join(str(info.context["base_dir"]), found)
    if not os.path.isfile(full):
        raise ConfigError("", f"no such file: {full}")
    return full


ServerFile = Annotated[str, BeforeValidator(_server_file)]


class TLSServerConfig(Section):
    """The listener's certificate and, optionally, the CA client certificates must chain to."""

    cert_file: ServerFile
    key_file: ServerFile
    client_auth_type: Annotated[str, _one_of(CLIENT_AUTH)] = "NoClientCert"
    client_ca_file: ServerFile | None = None
    min_version: Annotated[str, _one_of(TLS_VERSIONS)] = "TLS12"
    max_version: Annotated[str, _one_of(TLS_VERSIONS)] | None = None

    @model_validator(mode="after")
    def _ca_when_verifying(self) -> Self:
        if self.client_auth_type != "NoClientCert" and self.client_ca_file is None:
            raise ConfigError("client_ca_file", f"is required by {self.client_auth_type}")
        return self


def _users(value: object) -> tuple[tuple[str, bytes], ...]:
    if isinstance(value, tuple):
        return value  # built in code, already pairs
    if not isinstance(value, dict):
        raise ConfigError("", f"must be a mapping of user to bcrypt hash, got {describe(value)}")
    users = []
    for user, hashed in value.items():
        if not isinstance(user, str) or not user or ":" in user:
            raise ConfigError(str(user), "user names must be non-empty strings without ':'")
        if not isinstance(hashed, str) or bcrypt_cost(hashed.encode()) is None:
            # The hash itself is never echoed: it is as good as a password to an offline attack.
            raise ConfigError(
                user,
                "must be a bcrypt hash ($2a$, $2b$ or $2y$, a cost of "
                f"{MIN_COST} to {MAX_COST}, then the salted hash)",
            )
        users.append((user, hashed.encode()))
    return tuple(users)


class WebSecurity(Section):
    """What the listener enforces; the default (no TLS, no users) is plain open HTTP."""

    tls: TLSServerConfig | None = Field(None, alias="tls_server_config")
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
        return parse_web_config(raw, os.path.dirname(os.path.abspath(path)))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.path}", exc.reason) from None


def parse_web_config(raw: object, base_dir: str) -> WebSecurity:
    """The whole file; relative file paths are taken from the file's directory, as in Go."""
    return validate(WebSecurity, raw, base_dir=base_dir)


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
