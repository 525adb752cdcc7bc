"""The listener's SSLContext from `tls_server_config`, its certificates re-read per handshake.

As the exporter-toolkit does (it loads the key pair on every handshake), the certificate, key
and client CA files are read again on each TLS handshake (from the SNI callback, which OpenSSL
calls for every ClientHello, SNI or not, in the listener's selector thread, which handshakes);
when their bytes changed, a new context is built from them and the connection switches to it.
So a certificate replaced on disk is served from the next connection on, without a restart.
While the new files do not load (a key pair replaced one file at a time, say), the last good
context is kept and a warning logged once per set of files.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from exporter.config.keys import ConfigError
from exporter.files import MiB, read_regular_file
from exporter.web import openssl
from exporter.web.tlsconfig import CLIENT_AUTH, CURVES, TLS_VERSIONS, TLSServerConfig

log = logging.getLogger("exporter.http")
Material = tuple[bytes, bytes, bytes | None]  # certificate chain, key, client CAs (PEM)
MAX_PEM_BYTES = 4 * MiB  # a CA bundle is a few hundred KB


def read_material(tls: TLSServerConfig) -> Material:
    """The PEM bytes the config names, from its files or inline; OSError when unreadable."""

    def read(path: str | None, inline: str | None) -> bytes | None:
        if path is None:
            return None if inline is None else inline.encode()
        return read_regular_file(path, MAX_PEM_BYTES)  # never blocks a handshake on a FIFO

    cert, key = read(tls.cert_file, tls.cert), read(tls.key_file, tls.key)
    assert cert is not None and key is not None  # the model requires one of each
    return cert, key, read(tls.client_ca_file, tls.client_ca)


@contextmanager
def _as_file(data: bytes) -> Iterator[str]:
    """A path to data for OpenSSL, in memory where Linux allows (keys never touch a disk)."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("pem", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory() as folder:  # private (0700), removed at once
        path = os.path.join(folder, "pem")
        with open(path, "wb") as f:
            f.write(data)
        yield path


class ServerContext(ssl.SSLContext):
    """An SSLContext that also says which client certificates pass client_allowed_sans."""

    allowed_sans: frozenset[str] = frozenset()

    def peer_allowed(self, cert: dict[str, Any] | None) -> bool:
        """True unless client_allowed_sans is set and the certificate has none of them (by
        DNS name, IP address, e-mail or URI, exactly as the toolkit compares them)."""
        if not self.allowed_sans:
            return True
        for kind, value in (cert or {}).get("subjectAltName", ()):
            if kind == "IP Address":
                value = str(ipaddress.ip_address(value.strip()))
            if kind in ("DNS", "IP Address", "email", "URI") and value in self.allowed_sans:
                return True
        return False


def _load(context: ssl.SSLContext, material: Material) -> None:
    cert, key, cas = material
    with _as_file(cert) as cert_path, _as_file(key) as key_path:
        # A password (never asked for on a terminal) makes an encrypted key fail to load.
        context.load_cert_chain(cert_path, key_path, password=b"")
    if cas is not None:
        context.load_verify_locations(cadata=cas.decode("ascii", "replace"))


def build(tls: TLSServerConfig, material: Material) -> ServerContext:
    """A server context for the config and these PEM bytes; ssl.SSLError or ValueError when
    they do not load, openssl.OpenSSLUnavailable when a setting cannot be made."""
    context = ServerContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    if tls.openssl_ciphers is not None:
        context.set_ciphers(tls.openssl_ciphers)
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    curves = [CURVES[c] for c in tls.curve_preferences]
    if len(curves) == 1:
        context.set_ecdh_curve(curves[0])
    elif curves:
        openssl.set_groups(context, curves)
    context.set_alpn_protocols(["http/1.1"])  # no HTTP/2 here (see http_server_config.http2)
    _load(context, material)
    mode, verified = CLIENT_AUTH[tls.client_auth_type]
    context.verify_mode = mode
    if mode != ssl.CERT_NONE and not verified:
        openssl.accept_any_client_certificate(context)
    context.allowed_sans = frozenset(tls.client_allowed_sans)
    return context


class _Reloader:
    """Rebuilds the context when the files' bytes change; on_hello is the SNI callback."""

    def __init__(self, tls: TLSServerConfig, material: Material, context: ServerContext) -> None:
        self._tls = tls
        self._seen: object = material  # the bytes last tried (or why unreadable), loaded or not
        self._current = context
        self._lock = threading.Lock()

    def current(self) -> ServerContext:
        """The context for the files as they are now (the last good one if they do not load)."""
        try:
            material = read_material(self._tls)
        except OSError as exc:
            return self._keep(str(exc), exc)
        with self._lock:
            if material == self._seen:
                return self._current
        try:
            context = build(self._tls, material)
        except (ssl.SSLError, ValueError, OSError, openssl.OpenSSLUnavailable) as exc:
            return self._keep(material, exc)
        with self._lock:
            self._seen, self._current = material, context
        log.info("TLS certificate files changed: serving them from this handshake on")
        return context

    def _keep(self, seen: object, why: Exception) -> ServerContext:
        """The last good context; a warning the first time these files fail."""
        with self._lock:
            if seen != self._seen:
                self._seen = seen
                log.warning("TLS files changed but do not load, serving the last good: %s", why)
            return self._current

    def on_hello(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: Any) -> None:
        """OpenSSL's servername callback: switch the connection to the current context."""
        context = self.current()
        if sock.context is not context:
            sock.context = context


def ssl_context(tls: TLSServerConfig) -> ServerContext:
    """The listener's context, re-reading its files on each handshake; ConfigError when they
    do not load now."""
    try:
        material = read_material(tls)
    except OSError as exc:
        raise ConfigError("tls_server_config", f"cannot read certificates: {exc}") from None
    try:
        context = build(tls, material)
    except (ssl.SSLError, ValueError) as exc:
        raise _culprit(tls, material, exc) from None
    except openssl.OpenSSLUnavailable as exc:
        raise ConfigError(
            "tls_server_config", f"this Python's ssl module cannot do {_needs(tls)}: {exc}"
        ) from None
    context.sni_callback = _Reloader(tls, material, context).on_hello
    return context


def _source(name: str, path: str | None) -> tuple[str, str]:
    """The key path of a PEM and how to name it: its file, or the inline value (not echoed)."""
    return (
        (f"tls_server_config.{name}_file", path)
        if path
        else (f"tls_server_config.{name}", "the inline PEM")
    )


def _culprit(tls: TLSServerConfig, material: Material, exc: Exception) -> ConfigError:
    """Which PEM does not load, and why: OpenSSL's own message ("[SSL] PEM lib") names none."""
    cert, key, cas = material
    cert_at, cert_name = _source("cert", tls.cert_file)
    key_at, key_name = _source("key", tls.key_file)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        probe.load_verify_locations(cadata=cert.decode("ascii", "replace"))
    except (ssl.SSLError, ValueError) as why:
        return ConfigError(cert_at, f"{cert_name} holds no PEM certificate ({why})")
    try:
        _load(probe, (cert, key, None))
    except ssl.SSLError as why:
        if why.reason == "KEY_VALUES_MISMATCH":
            return ConfigError(
                key_at, f"{key_name} is not the key of the certificate in {cert_name}"
            )
        if why.reason is None or why.reason == "BAD_DECRYPT":  # "PEM lib": it did not parse
            return ConfigError(key_at, f"{key_name} holds no unencrypted PEM private key ({why})")
        return ConfigError(cert_at, f"{cert_name} cannot be served with {key_name}: {why}")
    if cas is not None:
        ca_at, ca_name = _source("client_ca", tls.client_ca_file)
        try:
            probe.load_verify_locations(cadata=cas.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as why:
            return ConfigError(ca_at, f"{ca_name} holds no PEM certificate ({why})")
    return ConfigError("tls_server_config", f"cannot load certificates: {exc}")


def _needs(tls: TLSServerConfig) -> str:
    if len(tls.curve_preferences) > 1:
        return "curve_preferences of more than one curve"
    return f"client_auth_type {tls.client_auth_type}"
