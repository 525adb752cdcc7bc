"""Throw-away certificates and a served MetricsServer for the web config's TLS tests."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client import CollectorRegistry

from exporter.web.http import MetricsServer
from exporter.web.webconfig import WebSecurity, load_web_config

BODY = b"up 1\n"


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path
    serial: int


class Authority:
    """A CA that signs server and client certificates into a folder."""

    def __init__(self, folder: Path, name: str = "test-ca") -> None:
        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._cert = self._sign(self._name, self._key.public_key(), [], ca=True)
        self.cert = folder / f"{name}.crt"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def _sign(
        self,
        subject: x509.Name,
        public: ec.EllipticCurvePublicKey,
        sans: list[x509.GeneralName],
        ca: bool = False,
        usage: x509.ObjectIdentifier | None = None,
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name if hasattr(self, "_cert") else subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return builder.sign(self._key, hashes.SHA256())

    def issue(
        self, stem: str, sans: list[x509.GeneralName] | None = None, client: bool = False
    ) -> Issued:
        """A certificate for stem (server: 127.0.0.1 and localhost unless sans say otherwise)."""
        key = ec.generate_private_key(ec.SECP256R1())
        if sans is None:
            sans = [
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)])
        cert = self._sign(name, key.public_key(), sans, usage=usage)
        return write(self.folder / stem, cert, key)


def write(stem: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Issued:
    """Write cert and key as stem.crt and stem.key."""
    stem.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    stem.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(stem.with_suffix(".crt"), stem.with_suffix(".key"), cert.serial_number)


def client_context(
    ca: Path, cert: Issued | None = None, max_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A client trusting ca, presenting cert if given."""
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert.cert), str(cert.key))
    if max_version is not None:
        context.maximum_version = max_version
    return context


@contextmanager
def connected(port: int, context: ssl.SSLContext) -> Iterator[ssl.SSLSocket]:
    """A TLS connection to the listener, handshake done."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        yield tls


def fetch(port: int, context: ssl.SSLContext, path: str = "/metrics") -> tuple[int, bytes]:
    """Status and body of a GET over a new TLS connection; raises when TLS refuses it."""
    with connected(port, context) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
    if not reply:
        raise ConnectionError("closed without an answer")
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def served_serial(port: int, ca: Path) -> int:
    """The serial number of the certificate the listener presents to a new connection."""
    with connected(port, client_context(ca)) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


@contextmanager
def serving(web: WebSecurity) -> Iterator[int]:
    """A started MetricsServer enforcing web, whose /metrics is BODY; yields its port."""
    server = MetricsServer(
        "127.0.0.1:0",
        CollectorRegistry(),
        lambda: (True, "ready"),
        web,
        render=lambda accept: (BODY, "text/plain"),
    )
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def web_file(folder: Path, text: str) -> WebSecurity:
    """Load text as a web config file in folder."""
    (folder / "web.yml").write_text(text)
    return load_web_config(str(folder / "web.yml"))
