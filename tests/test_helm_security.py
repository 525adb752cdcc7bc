"""The chart mounts the web config and the TLS secrets, and switches probes and scrapes to HTTPS."""

from __future__ import annotations

import base64
from pathlib import Path

import bcrypt
import kubernetes_validate  # type: ignore[import-untyped]
import yaml

from exporter.web.webconfig import parse_web_config
from tests.test_helm import KUBERNETES_VERSIONS, Doc, chart, helm, one, render

__all__ = ["chart"]  # the module-scoped fixture, shared with tests/test_helm.py

SECRETS = "/var/run/secrets/ml-monitoring-exporter"
HASH = bcrypt.hashpw(b"scrape-password", bcrypt.gensalt(rounds=4)).decode()
VALUES = f"""
redis:
  password: redis-password-value
  passwordAsFile: true
  tlsSecret: redis-client-tls
webConfig:
  tlsSecret: mlmon-web-tls
  config:
    tls_server_config:
      cert_file: {SECRETS}/web-tls/tls.crt
      key_file: {SECRETS}/web-tls/tls.key
    basic_auth_users:
      prometheus: '{HASH}'
serviceMonitor:
  tlsConfig: {{ca: {{secret: {{name: mlmon-web-tls, key: ca.crt}}}}, serverName: mlmon}}
  basicAuth:
    username: {{name: mlmon-scrape, key: user}}
    password: {{name: mlmon-scrape, key: password}}
"""


def secured(chart: Path, tmp_path: Path) -> list[Doc]:
    values = tmp_path / "secure-values.yaml"
    values.write_text(VALUES)
    lint = helm("lint", "--strict", str(chart), "-f", str(values))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return render(chart, "-f", str(values))


def pod_of(docs: list[Doc]) -> Doc:
    return dict(one(docs, "Deployment")["spec"]["template"]["spec"])


def test_the_web_config_is_a_secret_mounted_and_passed_with_web_config_file(
    chart: Path, tmp_path: Path
) -> None:
    docs = secured(chart, tmp_path)
    secret = next(
        d for d in docs if d["kind"] == "Secret" and "web-config.yml" in d.get("data", {})
    )
    text = base64.b64decode(secret["data"]["web-config.yml"]).decode()
    assert yaml.safe_load(text) == yaml.safe_load(VALUES)["webConfig"]["config"]
    assert not [d for d in docs if d["kind"] == "ConfigMap" and HASH in str(d)]
    (tmp_path / "certs").mkdir()  # the exporter's own parser accepts what the chart renders
    raw = yaml.safe_load(text.replace(f"{SECRETS}/web-tls", str(tmp_path / "certs")))
    for name in ("tls.crt", "tls.key"):
        (tmp_path / "certs" / name).write_text("placeholder")
    assert parse_web_config(raw, str(tmp_path)).users[0][0] == "prometheus"

    pod = pod_of(docs)
    (container,) = pod["containers"]
    assert f"--web.config.file={SECRETS}/web-config/web-config.yml" in container["args"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name, secret_name in [
        ("web-config", secret["metadata"]["name"]),
        ("web-tls", "mlmon-web-tls"),
        ("redis-tls", "redis-client-tls"),
    ]:
        assert mounts[name]["mountPath"] == f"{SECRETS}/{name}" and mounts[name]["readOnly"]
        assert volumes[name]["secret"]["secretName"] == secret_name
    for doc in [secret, one(docs, "Deployment")]:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_redis_password_can_come_from_a_mounted_file_instead_of_the_environment(
    chart: Path, tmp_path: Path
) -> None:
    pod = pod_of(secured(chart, tmp_path))
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert "REDIS_PASSWORD" not in env
    assert env["REDIS_PASSWORD_FILE"]["value"] == f"{SECRETS}/redis-password/password"
    volume = next(v for v in pod["volumes"] if v["name"] == "redis-password")
    assert volume["secret"]["items"] == [{"key": "redis-password", "path": "password"}]


def test_with_tls_the_probes_and_the_service_monitor_speak_https(
    chart: Path, tmp_path: Path
) -> None:
    docs = secured(chart, tmp_path)
    (container,) = pod_of(docs)["containers"]
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    (endpoint,) = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["serverName"] == "mlmon"
    assert endpoint["basicAuth"]["password"] == {"name": "mlmon-scrape", "key": "password"}


def test_without_a_web_config_the_chart_stays_plain_http_with_no_extra_mounts(chart: Path) -> None:
    docs = render(chart)
    (container,) = pod_of(docs)["containers"]
    assert not [a for a in container["args"] if a.startswith("--web.config.file")]
    assert "scheme" not in container["livenessProbe"]["httpGet"]
    assert {m["name"] for m in container["volumeMounts"]} == {"config", "tmp"}
    assert one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["scheme"] == "http"
