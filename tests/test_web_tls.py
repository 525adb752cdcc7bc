"""tls_server_config against real TLS clients: client auth types, SANs, inline PEM, versions,
ciphers, curves, and certificates replaced on disk while serving."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from tests.webtls import (
    BODY,
    Authority,
    Issued,
    client_context,
    connected,
    fetch,
    served_serial,
    serving,
)
from tests.webtls import web_file as load

TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
# client_auth_type -> whether (no certificate, one from the CA, one from another CA) get in
ADMITS = {
    "NoClientCert": (True, True, True),
    "RequestClientCert": (True, True, True),
    "RequireAnyClientCert": (False, True, True),
    "VerifyClientCertIfGiven": (True, True, False),
    "RequireAndVerifyClientCert": (False, True, False),
}


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


@pytest.fixture
def server(ca: Authority) -> Issued:
    return ca.issue("server")


def other_ca(tmp_path: Path) -> Authority:
    """A CA the listener does not trust."""
    (tmp_path / "other").mkdir()
    return Authority(tmp_path / "other", "other-ca")


def tls_yaml(server: Issued, extra: str = "") -> str:
    return f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n{extra}"


def admitted(port: int, context: ssl.SSLContext) -> bool:
    """True when the request is answered; False when TLS (or the SAN check) refuses it."""
    try:
        return fetch(port, context) == (200, BODY)
    except (ssl.SSLError, ConnectionError, OSError):
        return False


@pytest.mark.parametrize("auth", TYPES)
def test_each_client_auth_type_admits_exactly_the_clients_go_would(
    tmp_path: Path, ca: Authority, server: Issued, auth: str
) -> None:
    ours = ca.issue("client", [x509.DNSName("scraper")], client=True)
    stranger = other_ca(tmp_path).issue("stranger", [x509.DNSName("scraper")], client=True)
    ca_line = f"  client_ca_file: {ca.cert}\n" if auth != "NoClientCert" else ""
    web = load(tmp_path, tls_yaml(server, f"  client_auth_type: {auth}\n{ca_line}"))
    with serving(web) as port:
        got = tuple(
            admitted(port, client_context(ca.cert, cert)) for cert in (None, ours, stranger)
        )
    assert got == ADMITS[auth]


@pytest.mark.parametrize("auth", ["RequireAnyClientCert", "RequireAndVerifyClientCert"])
def test_client_allowed_sans_admits_only_certificates_naming_one(
    tmp_path: Path, ca: Authority, server: Issued, auth: str
) -> None:
    good_dns = ca.issue("a", [x509.DNSName("prometheus.monitoring")], client=True)
    good_uri = ca.issue("b", [x509.UniformResourceIdentifier("spiffe://cluster/prom")], client=True)
    good_ip = ca.issue("c", [x509.IPAddress(ipaddress.ip_address("10.0.0.7"))], client=True)
    bad = ca.issue("d", [x509.DNSName("intruder.example")], client=True)
    sans = "[prometheus.monitoring, 'spiffe://cluster/prom', 10.0.0.7]"
    web = load(
        tmp_path,
        tls_yaml(
            server,
            f"  client_auth_type: {auth}\n  client_ca_file: {ca.cert}\n"
            f"  client_allowed_sans: {sans}\n",
        ),
    )
    with serving(web) as port:
        for cert in (good_dns, good_uri, good_ip):
            assert admitted(port, client_context(ca.cert, cert)), cert
        assert not admitted(port, client_context(ca.cert, bad))
        assert not admitted(port, client_context(ca.cert))


def test_inline_cert_key_and_client_ca_serve_like_files(
    tmp_path: Path, ca: Authority, server: Issued
) -> None:
    def block(text: str) -> str:
        return "|\n" + "".join(f"    {line}\n" for line in text.splitlines())

    client = ca.issue("client", [x509.DNSName("scraper")], client=True)
    web = load(
        tmp_path,
        "tls_server_config:\n"
        f"  cert: {block(server.cert.read_text())}"
        f"  key: {block(server.key.read_text())}"
        f"  client_ca: {block(ca.cert.read_text())}"
        "  client_auth_type: RequireAndVerifyClientCert\n",
    )
    assert "PRIVATE KEY" not in repr(web) + str(web)
    with serving(web) as port:
        assert served_serial(port, ca.cert) == server.serial
        assert fetch(port, client_context(ca.cert, client)) == (200, BODY)
        assert not admitted(port, client_context(ca.cert))


def test_a_certificate_replaced_on_disk_is_served_on_the_next_connection(
    tmp_path: Path, ca: Authority, server: Issued, caplog: pytest.LogCaptureFixture
) -> None:
    web = load(tmp_path, tls_yaml(server))
    with serving(web) as port:
        assert served_serial(port, ca.cert) == server.serial
        # Replaced in place, one file at a time: between the two the pair does not match, and
        # the last good certificate is served.
        new = ca.issue("next")
        shutil.copyfile(new.cert, server.cert)
        with caplog.at_level(logging.WARNING, "exporter.http"):
            assert served_serial(port, ca.cert) == server.serial
        assert "do not load" in caplog.text
        shutil.copyfile(new.key, server.key)
        assert served_serial(port, ca.cert) == new.serial
        # Replaced by rename (as Kubernetes updates a mounted secret, or certbot does).
        third = ca.issue("third")
        os.replace(third.key, server.key)
        os.replace(third.cert, server.cert)
        assert served_serial(port, ca.cert) == third.serial
        assert fetch(port, client_context(ca.cert)) == (200, BODY)


def test_a_certificate_swapped_for_a_fifo_keeps_the_last_good_one_without_blocking(
    tmp_path: Path, ca: Authority, server: Issued, caplog: pytest.LogCaptureFixture
) -> None:
    web = load(tmp_path, tls_yaml(server))
    with serving(web) as port:
        os.remove(server.cert)
        os.mkfifo(server.cert)  # a reader would wait for a writer forever
        with caplog.at_level(logging.WARNING, "exporter.http"):
            assert served_serial(port, ca.cert) == server.serial
        assert "not a regular file" in caplog.text


def test_a_client_ca_replaced_on_disk_verifies_the_next_connection(
    tmp_path: Path, ca: Authority, server: Issued
) -> None:
    other = other_ca(tmp_path)
    theirs = other.issue("theirs", [x509.DNSName("x")], client=True)
    clients = tmp_path / "clients.crt"
    shutil.copyfile(ca.cert, clients)
    web = load(
        tmp_path,
        tls_yaml(
            server, f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {clients}\n"
        ),
    )
    with serving(web) as port:
        assert not admitted(port, client_context(ca.cert, theirs))
        shutil.copyfile(other.cert, clients)
        assert admitted(port, client_context(ca.cert, theirs))


def test_tls12_uses_the_configured_cipher_suite_only(
    tmp_path: Path, ca: Authority, server: Issued
) -> None:
    extra = "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n"
    with serving(load(tmp_path, tls_yaml(server, extra))) as port:
        with connected(port, client_context(ca.cert)) as tls:
            assert tls.version() == "TLSv1.2"
            assert (tls.cipher() or ("",))[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"
        other_cipher = client_context(ca.cert)
        other_cipher.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        assert not admitted(port, other_cipher)


@pytest.mark.parametrize("curves", ["[CurveP384, X25519]", "[CurveP384]"])
def test_curve_preferences_limit_the_key_exchange_groups(
    tmp_path: Path, ca: Authority, server: Issued, curves: str
) -> None:
    # TLS 1.3: there the groups are the key exchange only (in TLS 1.2 they also bind the
    # curve of an ECDSA certificate).
    extra = f"  min_version: TLS13\n  curve_preferences: {curves}\n"
    x25519 = "X25519" in curves
    with serving(load(tmp_path, tls_yaml(server, extra))) as port:
        for curve, ok in (("X25519", x25519), ("secp384r1", True), ("prime256v1", False)):
            client = client_context(ca.cert)
            client.set_ecdh_curve(curve)
            assert admitted(port, client) is ok, curve


def test_min_version_tls13_refuses_a_tls12_client(
    tmp_path: Path, ca: Authority, server: Issued
) -> None:
    with serving(load(tmp_path, tls_yaml(server, "  min_version: TLS13\n"))) as port:
        assert not admitted(port, client_context(ca.cert, max_version=ssl.TLSVersion.TLSv1_2))
        assert admitted(port, client_context(ca.cert))


def test_http2_true_is_warned_about_and_alpn_offers_http11_only(
    tmp_path: Path, ca: Authority, server: Issued, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "exporter.http"):
        web = load(tmp_path, tls_yaml(server) + "http_server_config: {http2: true}\n")
    assert "HTTP/1.1 only" in caplog.text
    client = client_context(ca.cert)
    client.set_alpn_protocols(["h2", "http/1.1"])
    with serving(web) as port, connected(port, client) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_s_client_with_an_unverified_certificate_gets_in_with_require_any(
    tmp_path: Path, ca: Authority, server: Issued
) -> None:
    mine = other_ca(tmp_path).issue("me", [x509.DNSName("me")], client=True)
    web = load(tmp_path, tls_yaml(server, "  client_auth_type: RequireAnyClientCert\n"))
    with serving(web) as port:
        args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet"]
        request = b"GET /metrics HTTP/1.0\r\n\r\n"
        refused = subprocess.run(args, input=request, capture_output=True, timeout=20)
        answered = subprocess.run(
            [*args, "-cert", str(mine.cert), "-key", str(mine.key)],
            input=request,
            capture_output=True,
            timeout=20,
        )
    assert b"200 OK" not in refused.stdout
    assert b"200 OK" in answered.stdout and BODY in answered.stdout
