"""The web config's `tls_server_config` section, key for key as in the exporter-toolkit.

Names are the Go ones (crypto/tls): client auth types, TLS versions, cipher suites (only those
tls.CipherSuites() returns, as the toolkit accepts) and curves. What each becomes in OpenSSL
is here too; exporter/web/tlscontext.py builds the context from it.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from exporter.config.keys import ConfigError, Section, describe
from exporter.config.scalars import text

# client_auth_type -> (OpenSSL verify mode, whether the chain is verified)
CLIENT_AUTH = {
    "NoClientCert": (ssl.CERT_NONE, False),
    "RequestClientCert": (ssl.CERT_OPTIONAL, False),
    "RequireAnyClientCert": (ssl.CERT_REQUIRED, False),
    "VerifyClientCertIfGiven": (ssl.CERT_OPTIONAL, True),
    "RequireAndVerifyClientCert": (ssl.CERT_REQUIRED, True),
}
ALIASES = {"RequireClientCert": "RequireAnyClientCert"}  # kept by the toolkit for old files
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's name -> OpenSSL's, for TLS 1.2 and below. The TLS 1.3 suites are accepted and, as in
# Go, not configurable: every TLS 1.3 suite stays on.
CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
TLS13_CIPHERS = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
# Go's name -> OpenSSL's (a name both set_ecdh_curve and the groups list take)
CURVES = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}


def _one_of(allowed: Iterable[str], aliases: dict[str, str] | None = None) -> BeforeValidator:
    """A reader of one name of allowed, in the exporter-toolkit's wording."""

    choices = tuple(allowed)

    def read(value: object) -> str:
        found = (aliases or {}).get(value, value) if isinstance(value, str) else value
        if found not in choices:
            raise ConfigError("", f"must be one of {', '.join(choices)}, got {value!r}")
        return str(found)

    return BeforeValidator(read)


def _names(allowed: Iterable[str]) -> BeforeValidator:
    """A list of names, each one of allowed; errors name the item."""
    choices = tuple(allowed)

    def read(value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise ConfigError("", f"must be a list, got {describe(value)}")
        for i, item in enumerate(value):
            if item not in choices:
                raise ConfigError(f"[{i}]", f"unknown name {item!r}: one of {', '.join(choices)}")
        return tuple(value)

    return BeforeValidator(read)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError("", f"must be a list of strings, got {describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"[{i}]", f"must be a non-empty string, got {describe(item)}")
    return tuple(value)


def boolean(value: object) -> bool:
    """true or false, nothing YAML or pydantic would coerce."""
    if not isinstance(value, bool):
        raise ConfigError("", f"must be true or false, got {describe(value)}")
    return value


def _pem(value: object) -> str:
    found = text(value)
    if "-----BEGIN " not in found:
        raise ConfigError("", "must be PEM text (-----BEGIN ...)")  # never echoed: it may be a key
    return found


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
Pem = Annotated[str, BeforeValidator(_pem)]
Version = Annotated[str, _one_of(TLS_VERSIONS)]


class TLSServerConfig(Section):
    """The listener's certificate, its client-certificate policy and its TLS parameters."""

    cert_file: ServerFile | None = None
    key_file: ServerFile | None = None
    cert: Pem | None = None
    key: Pem | None = Field(None, repr=False)  # a secret
    client_auth_type: Annotated[str, _one_of(CLIENT_AUTH, ALIASES)] = "NoClientCert"
    client_ca_file: ServerFile | None = None
    client_ca: Pem | None = None
    client_allowed_sans: Annotated[tuple[str, ...], BeforeValidator(_strings)] = ()
    cipher_suites: Annotated[tuple[str, ...], _names([*CIPHERS, *TLS13_CIPHERS])] = ()
    curve_preferences: Annotated[tuple[str, ...], _names(CURVES)] = ()
    min_version: Version = "TLS12"
    max_version: Version = "TLS13"
    prefer_server_cipher_suites: Annotated[bool, BeforeValidator(boolean)] = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        pairs = (("cert", "cert_file"), ("key", "key_file"), ("client_ca", "client_ca_file"))
        for inline, path in pairs:
            given = [k for k in (inline, path) if getattr(self, k) is not None]
            if len(given) == 2:
                raise ConfigError(inline, f"give {inline} or {path}, not both")
            if not given and inline != "client_ca":
                raise ConfigError(path, f"is required (or {inline}, the PEM inline)")
        self._check_clients()
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            raise ConfigError("min_version", f"{self.min_version} is above max_version")
        suites = [c for c in self.cipher_suites if c in CIPHERS]
        if self.cipher_suites and not suites and self.min_version != "TLS13":
            raise ConfigError(
                "cipher_suites",
                "names no TLS 1.2 suite, so no TLS 1.2 client could connect "
                "(TLS 1.3 suites are not configurable): add one, or set min_version: TLS13",
            )
        return self

    def _check_clients(self) -> None:
        has_ca = self.client_ca_file is not None or self.client_ca is not None
        verifies = CLIENT_AUTH[self.client_auth_type][1]
        if has_ca and self.client_auth_type == "NoClientCert":
            raise ConfigError(
                "client_auth_type", "client CAs are configured without a client auth policy"
            )
        if verifies and not has_ca:
            raise ConfigError(
                "client_ca_file", f"is required by {self.client_auth_type} (or client_ca)"
            )
        if self.client_allowed_sans and CLIENT_AUTH[self.client_auth_type][0] != ssl.CERT_REQUIRED:
            raise ConfigError(
                "client_allowed_sans",
                "needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert "
                "(the others let a client in without a certificate, so without a SAN)",
            )

    @property
    def openssl_ciphers(self) -> str | None:
        """The TLS 1.2 suites for SSLContext.set_ciphers, in the configured order; None: default."""
        suites = [CIPHERS[c] for c in self.cipher_suites if c in CIPHERS]
        return ":".join(suites) if suites else None
