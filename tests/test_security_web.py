"""/metrics behind TLS and basic auth from a web config file, checked with real HTTPS requests."""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import logging
import ssl
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import ConfigError
from exporter.daemon import Daemon
from exporter.web.http import MetricsServer
from exporter.web.webconfig import BasicAuth, WebSecurity, load_web_config
from tests.conftest import RedisServer
from tests.helpers import make_config, sample, write_reference

USER, PASSWORD = "prometheus", "scrape-Pa55-9f3c"


@dataclass(frozen=True)
class Pki:
    """A throw-away CA with a server certificate for 127.0.0.1/localhost and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(dest: Path) -> Pki:
    """Write a CA, a server and a client certificate (PEM) into dest."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(
        cn: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        signer: ec.EllipticCurvePrivateKey,
        extensions: list[tuple[x509.ExtensionType, bool]],
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical)
        return builder.sign(signer, hashes.SHA256())

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (dest / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (dest / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue(
        "test-ca",
        ca_key,
        name("test-ca"),
        ca_key,
        [(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    for stem, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        write(
            stem,
            issue(
                stem,
                key,
                ca.subject,
                ca_key,
                [(san, False), (x509.ExtendedKeyUsage([usage]), False)],
            ),
            key,
        )
    (dest / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Pki(
        dest / "ca.crt",
        dest / "server.crt",
        dest / "server.key",
        dest / "client.crt",
        dest / "client.key",
    )


def web_config_text(pki: Pki, client_auth: str = "NoClientCert") -> str:
    """A web config in the exporter-toolkit format, with one basic-auth user."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    ca = f"  client_ca_file: {pki.ca.name}\n" if client_auth != "NoClientCert" else ""
    return (
        f"tls_server_config:\n  cert_file: {pki.server_cert.name}\n"
        f"  key_file: {pki.server_key.name}\n  client_auth_type: {client_auth}\n{ca}"
        f"basic_auth_users:\n  {USER}: '{hashed}'\n"
    )


def get(
    url: str, context: ssl.SSLContext | None = None, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of a GET; HTTP errors are answers too."""
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def client_context(pki: Pki, with_cert: bool = False) -> ssl.SSLContext:
    """A client context trusting the test CA, optionally presenting the client certificate."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if with_cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return context


@contextmanager
def secured(tmp_path: Path, redis_url: str, web: WebSecurity) -> Iterator[str]:
    """A started daemon whose listener enforces web; yields its https base URL."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    daemon = Daemon(make_config(tmp_path, redis_url), registry=CollectorRegistry(), web=web)
    daemon.start()
    try:
        yield f"{daemon.http.scheme}://127.0.0.1:{daemon.http.port}"
    finally:
        daemon.stop()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def test_good_credentials_over_https_get_the_metrics(
    pki: Pki, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "web.yml").write_text(web_config_text(pki))
    with secured(tmp_path, redis_server.url, load_web_config(str(tmp_path / "web.yml"))) as base:
        assert base.startswith("https://")
        status, _, body = get(f"{base}/metrics", client_context(pki), (USER, PASSWORD))
        assert status == 200 and "mlmon_redis_up 1.0" in body
        status, _, body = get(f"{base}/", client_context(pki), (USER, PASSWORD))
        assert status == 200 and "/metrics" in body


def test_a_wrong_or_missing_password_gets_401_with_a_basic_challenge(
    pki: Pki, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "web.yml").write_text(web_config_text(pki))
    with secured(tmp_path, redis_server.url, load_web_config(str(tmp_path / "web.yml"))) as base:
        for auth in [(USER, "wrong"), ("nobody", PASSWORD), None, (USER, "")]:
            for path in ("/metrics", "/"):
                status, headers, body = get(f"{base}{path}", client_context(pki), auth)
                assert status == 401, (auth, path)
                assert headers["WWW-Authenticate"].startswith("Basic ")
                assert "mlmon_" not in body


def test_the_probes_answer_without_credentials_so_the_kubelet_needs_none(
    pki: Pki, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "web.yml").write_text(web_config_text(pki))
    with secured(tmp_path, redis_server.url, load_web_config(str(tmp_path / "web.yml"))) as base:
        assert get(f"{base}/healthz", client_context(pki))[0] == 200
        assert get(f"{base}/readyz", client_context(pki))[0] in (200, 503)


def test_plain_http_to_the_tls_listener_is_refused(
    pki: Pki, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "web.yml").write_text(web_config_text(pki))
    with secured(tmp_path, redis_server.url, load_web_config(str(tmp_path / "web.yml"))) as base:
        plain = base.replace("https://", "http://")
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
            get(f"{plain}/metrics", auth=(USER, PASSWORD))
        # The listener survives the bad client and keeps serving.
        assert get(f"{base}/metrics", client_context(pki), (USER, PASSWORD))[0] == 200


def test_a_required_client_certificate_keeps_out_clients_without_one(
    pki: Pki, tmp_path: Path, redis_server: RedisServer
) -> None:
    (tmp_path / "web.yml").write_text(web_config_text(pki, "RequireAndVerifyClientCert"))
    with secured(tmp_path, redis_server.url, load_web_config(str(tmp_path / "web.yml"))) as base:
        with pytest.raises((urllib.error.URLError, ssl.SSLError, OSError)):
            get(f"{base}/metrics", client_context(pki), (USER, PASSWORD))
        status, _, body = get(
            f"{base}/metrics", client_context(pki, with_cert=True), (USER, PASSWORD)
        )
        assert status == 200 and "mlmon_redis_up" in body


def test_basic_auth_without_tls_also_guards_the_metrics(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4))
    with secured(tmp_path, redis_server.url, WebSecurity(users=((USER, hashed),))) as base:
        assert base.startswith("http://")
        assert get(f"{base}/metrics")[0] == 401
        assert get(f"{base}/metrics", auth=(USER, PASSWORD))[0] == 200


def test_a_verified_password_is_not_hashed_again_on_the_next_scrape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = BasicAuth(((USER, bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4))),))
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    assert all(auth.check(USER, PASSWORD) for _ in range(5))
    assert len(calls) == 1
    assert not auth.check(USER, PASSWORD + "x") and not auth.check(USER, PASSWORD + "x")
    assert len(calls) == 3  # failures are never cached


def test_a_wrong_password_takes_as_long_for_an_unknown_user_as_for_a_known_one() -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10))
    server = MetricsServer(
        "127.0.0.1:0",
        CollectorRegistry(),
        lambda: (True, "ready"),
        WebSecurity(users=((USER, hashed),)),
    )
    server.start()
    seconds: dict[str, list[float]] = {USER: [], "nobody": []}
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        for _ in range(20):  # interleaved, so a busy moment of the machine hits both alike
            for user in seconds:
                start = time.perf_counter()
                assert get(url, auth=(user, "wrong-password"))[0] == 401
                seconds[user].append(time.perf_counter() - start)
    finally:
        server.stop()
    known, unknown = (statistics.median(seconds[u]) for u in (USER, "nobody"))
    assert max(known, unknown) / min(known, unknown) < 2, (known, unknown)


def test_users_hashed_at_different_costs_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "exporter.http"):
        BasicAuth(
            (
                ("a", bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=4))),
                ("b", bcrypt.hashpw(b"y", bcrypt.gensalt(rounds=5))),
            )
        )
    assert "different bcrypt costs (4, 5)" in caplog.text


CUT_SHORT = "$2b$04$.RAJZYcmkiYZF8bj0B1ELe4"  # the first 30 of a bcrypt hash's 60 characters
BAD_SALT = "$2b$04$" + "a" * 53  # well-formed but for the salt's last letter, which bcrypt refuses


@pytest.mark.parametrize("hashed", [CUT_SHORT, BAD_SALT, CUT_SHORT + "a" * 31])
def test_a_hash_bcrypt_could_never_match_is_refused_at_load_naming_its_user(
    tmp_path: Path, hashed: str
) -> None:
    (tmp_path / "web.yml").write_text(f"basic_auth_users: {{alice: '{hashed}'}}\n")
    with pytest.raises(ConfigError) as err:
        load_web_config(str(tmp_path / "web.yml"))
    assert "basic_auth_users.alice: must be a bcrypt hash of 60 characters" in str(err.value)
    assert f"got {len(hashed)} characters" in str(err.value)
    assert hashed not in str(err.value)


def test_a_password_refused_because_bcrypt_cannot_read_the_hash_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth = BasicAuth((("alice", BAD_SALT.encode()),))  # built in code, so not checked at load
    with caplog.at_level(logging.WARNING, "exporter.http"):
        assert not auth.check("alice", PASSWORD) and not auth.check("alice", PASSWORD)
    assert caplog.text.count("basic_auth_users.alice: bcrypt cannot check a password") == 1
    assert BAD_SALT not in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key, bogus: 1}\n",
            "tls_server_config.bogus: unknown key",
        ),
        (
            "basic_auth_users: {u: x}\nhttp_server_config: {http3: true}\n",
            "http_server_config.http3: unknown key",
        ),
        ("tls_server_config: {key_file: server.key}\n", "tls_server_config.cert_file: is required"),
        (
            "tls_server_config: {cert_file: nope.crt, key_file: server.key}\n",
            "tls_server_config.cert_file: no such file",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key,"
            " client_auth_type: RequireAndVerifyClientCert}\n",
            "tls_server_config.client_ca_file: is required by RequireAndVerifyClientCert",
        ),
        (
            "tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: SSL3}\n",
            "tls_server_config.min_version: must be one of",
        ),
        (
            "basic_auth_users: {alice: plain-text-password}\n",
            "basic_auth_users.alice: must be a bcrypt",
        ),
        (
            "basic_auth_users: {alice: '$2b$99$plain-text-password'}\n",
            "basic_auth_users.alice: must be a bcrypt",
        ),
    ],
)
def test_a_bad_web_config_names_the_key_path_of_the_problem(
    pki: Pki, tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "web.yml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_web_config(str(tmp_path / "web.yml"))
    assert message in str(err.value)
    assert "plain-text-password" not in str(err.value)
