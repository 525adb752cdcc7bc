"""The web config file key for key: what the exporter-toolkit accepts, what it refuses (with the
key path), and http_server_config.headers and rate_limit on a running listener."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exporter.config import ConfigError
from exporter.web.httpconfig import go_duration
from tests.helpers import model_yaml, sample, write_reference
from tests.webtls import Authority, serving
from tests.webtls import web_file as load

HEADERS = (
    "http_server_config:\n  headers:\n"
    "    X-Frame-Options: deny\n"
    "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n"
    "    X-Content-Type-Options: nosniff\n"
    "    X-XSS-Protection: 1\n"
    "    Content-Security-Policy: \"default-src 'self'\"\n"
)


def get(port: int, path: str = "/metrics") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_configured_headers_are_on_every_answer(tmp_path: Path) -> None:
    hashed = "$2b$04$" + "a" * 21 + "e" + "a" * 31
    web = load(tmp_path, HEADERS + f"basic_auth_users: {{u: '{hashed}'}}\n")
    with serving(web) as port:
        for path, status in (("/metrics", 401), ("/healthz", 200), ("/nothing", 401)):
            response = get(port, path)
            assert response.status == status
            assert response.headers["X-Frame-Options"] == "deny"
            assert response.headers["X-XSS-Protection"] == "1"
            assert response.headers["Content-Security-Policy"] == "default-src 'self'"
            assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"]


def test_a_blank_header_value_leaves_the_header_unset(tmp_path: Path) -> None:
    web = load(tmp_path, "http_server_config: {headers: {X-Frame-Options: ''}}\n")
    with serving(web) as port:
        assert "X-Frame-Options" not in get(port).headers


def test_rate_limit_answers_429_past_the_burst_for_every_path(tmp_path: Path) -> None:
    web = load(tmp_path, "rate_limit: {interval: 1h, burst: 2}\n")
    with serving(web) as port:
        assert [get(port, p).status for p in ("/metrics", "/healthz", "/metrics")] == [
            200,
            200,
            429,
        ]


def test_go_durations() -> None:
    assert go_duration("1m30s") == 90
    assert go_duration("250ms") == 0.25
    assert go_duration("1.5h") == 5400
    assert go_duration(0) == go_duration("0") == 0
    for bad in ("1", "1d", "", "s", True, 5):
        with pytest.raises(ConfigError):
            go_duration(bad)


def test_what_the_toolkit_accepts_loads(tmp_path: Path) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("server")
    text = (
        f"tls_server_config:\n  cert_file: {server.cert.name}\n  key_file: {server.key.name}\n"
        f"  client_ca_file: {ca.cert.name}\n  client_auth_type: RequireClientCert\n"
        "  client_allowed_sans: [a.example]\n"
        "  cipher_suites: [TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n"
        "  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n"
        "  min_version: TLS10\n  max_version: TLS13\n  prefer_server_cipher_suites: false\n"
        "http_server_config: {http2: false}\nrate_limit: {interval: 0, burst: 0}\n"
    )
    web = load(tmp_path, text)
    assert web.tls is not None
    assert web.tls.client_auth_type == "RequireAnyClientCert"  # the toolkit's old name
    assert web.tls.openssl_ciphers == "ECDHE-RSA-AES128-GCM-SHA256"
    assert load(tmp_path, "tls_server_config: {}\n").tls is None  # empty: plain HTTP, as in Go


SERVER = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SERVER + "  bogus: 1\n", "tls_server_config.bogus: unknown key"),
        ("rate_limit: {every: 1s}\n", "rate_limit.every: unknown key"),
        ("rate_limit: {interval: 1s}\n", "rate_limit.burst: must be 1 or more"),
        ("rate_limit: {interval: 10, burst: 1}\n", "rate_limit.interval: must be a duration"),
        ("http_server_config: {http2: yes please}\n", "http_server_config.http2: must be true"),
        (
            "http_server_config: {headers: {Set-Cookie: a=b}}\n",
            "http_server_config.headers.Set-Cookie: can not be configured",
        ),
        (
            "http_server_config: {headers: {x-frame-options: deny}}\n",
            "http_server_config.headers.x-frame-options: can not be configured",
        ),
        (
            "http_server_config: {headers: {X-Frame-Options: allow}}\n",
            "http_server_config.headers.X-Frame-Options: must be one of deny, sameorigin",
        ),
        (
            'http_server_config: {headers: {Content-Security-Policy: "a\\r\\nSet-Cookie: x=1"}}\n',
            "http_server_config.headers.Content-Security-Policy: must not hold control",
        ),
        (
            SERVER + "  cert: '-----BEGIN CERTIFICATE-----'\n",
            "tls_server_config.cert: give cert or cert_file, not both",
        ),
        ("tls_server_config: {cert_file: server.crt}\n", "tls_server_config.key_file: is required"),
        ("tls_server_config: {key: secret-key-text}\n", "tls_server_config.key: must be PEM"),
        (
            SERVER + "  client_ca_file: ca.crt\n",
            "tls_server_config.client_auth_type: client CAs are configured without",
        ),
        (
            SERVER + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n"
            "  client_allowed_sans: [a]\n",
            "tls_server_config.client_allowed_sans: needs client_auth_type RequireAnyClientCert",
        ),
        (
            SERVER + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_RC4]\n",
            "tls_server_config.cipher_suites[1]: unknown name 'TLS_RSA_RC4'",
        ),
        (
            SERVER + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "tls_server_config.cipher_suites: names no TLS 1.2 suite",
        ),
        (SERVER + "  curve_preferences: [P256]\n", "tls_server_config.curve_preferences[0]"),
        (
            SERVER + "  min_version: TLS13\n  max_version: TLS12\n",
            "tls_server_config.min_version: TLS13 is above max_version",
        ),
        (SERVER + "  client_auth_type: Maybe\n", "tls_server_config.client_auth_type: must be"),
    ],
)
def test_a_bad_web_config_names_the_key_path(tmp_path: Path, text: str, message: str) -> None:
    ca = Authority(tmp_path, "ca")
    ca.issue("server")
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert message in str(err.value)
    assert "secret-key-text" not in str(err.value)


def test_certificate_files_that_do_not_load_are_named_with_their_key_path(
    tmp_path: Path,
) -> None:
    """OpenSSL's "[SSL] PEM lib" named neither the key nor the file."""
    from exporter.web.webconfig import ssl_context

    ca = Authority(tmp_path)
    server, other = ca.issue("server"), ca.issue("other")
    cases = {
        (server.key, server.cert): f"cert_file: {server.key} holds no PEM certificate",
        (server.cert, other.key): (
            f"key_file: {other.key} is not the key of the certificate in {server.cert}"
        ),
        (server.cert, server.cert): f"key_file: {server.cert} holds no unencrypted PEM private key",
    }
    for (cert, key), message in cases.items():
        web = load(tmp_path, f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n")
        assert web.tls is not None
        with pytest.raises(ConfigError) as err:
            ssl_context(web.tls)
        assert str(err.value).startswith("tls_server_config." + message), err.value


def test_check_config_names_the_web_config_file_of_swapped_certificate_files(
    tmp_path: Path,
) -> None:
    server = Authority(tmp_path).issue("server")
    (tmp_path / "web.yml").write_text(
        f"tls_server_config: {{cert_file: {server.key}, key_file: {server.cert}}}\n"
    )
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 200))
    (tmp_path / "config.yaml").write_text(
        "redis: {url: 'redis://127.0.0.1:1/0'}\nmodels:" + model_yaml("m")
    )
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", f"--config.file={tmp_path}/config.yaml",
         f"--web.config.file={tmp_path}/web.yml"],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{tmp_path}/web.yml: tls_server_config.cert_file: {server.key} holds no" in (
        result.stderr
    )
