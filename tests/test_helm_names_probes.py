"""Chart objects a user can install whatever the release is called, probes they can replace and
the metrics path they can move."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.test_helm import Doc, helm, one, render, stage_chart

# Kubernetes' name rules: Services are DNS-1035 labels, Pods (their hostname) and StatefulSets
# (whose pods are named <name>-<ordinal> and labelled controller-revision-hash=<name>-<10
# characters>) DNS-1123 labels, the rest DNS-1123 subdomains.
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
RELEASES = (
    "mlmon",
    "ml-platform-observability",  # fullname of 47 characters: two dashboards shared a name
    "ml-platform-observability-prod-eu",
    "m" + "l" * 51 + "x",  # 53, the longest release name Helm accepts
)
EVERY_OBJECT = (
    "--set", "dashboards.grafanaOperator.enabled=true",
    "--set", "webConfig.config.basic_auth_users.scraper=$2b$12$0123456789012345678901",
    "--set", "helmTest.enabled=true",
    "--set", "podDisruptionBudget.enabled=true",
    "--set", "networkPolicy.enabled=true",
    "--set", "redis.password=x",
)  # fmt: skip


def template(chart: Path, release: str, *args: str) -> list[Doc]:
    result = helm("template", release, str(chart), "--namespace", "models", *args)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def name_breaks(doc: Doc) -> str | None:
    """Why Kubernetes would refuse the object's name, None when it takes it."""
    kind, name = doc["kind"], doc["metadata"]["name"]
    if kind == "Service" and not DNS1035_LABEL.match(name):
        return "not a DNS-1035 label"
    if kind in ("Pod", "StatefulSet") and not DNS1123_LABEL.match(name):
        return "not a DNS-1123 label"
    if kind == "StatefulSet" and len(name) > 52:
        return "over 52 characters: controller-revision-hash would pass 63"
    if not DNS1123_SUBDOMAIN.match(name):
        return "not a DNS-1123 subdomain"
    return None


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stage_chart(tmp_path_factory.mktemp("chart"))


@pytest.mark.parametrize("shards", ["1", "3"])
@pytest.mark.parametrize("release", RELEASES)
def test_every_object_name_is_unique_and_valid_for_any_release_name(
    chart: Path, release: str, shards: str
) -> None:
    docs = template(chart, release, *EVERY_OBJECT, "--set", f"shards={shards}")
    names = Counter((d["kind"], d["metadata"]["name"]) for d in docs)
    assert [n for n, count in names.items() if count > 1] == []
    assert {d["metadata"]["name"]: name_breaks(d) for d in docs if name_breaks(d)} == {}
    assert len([d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in str(d["data"])]) > 1


def test_a_long_release_keeps_the_dashboard_names_readable_and_references_consistent(
    chart: Path,
) -> None:
    docs = template(chart, "ml-platform-observability", *EVERY_OBJECT, "--set", "shards=3")
    dashboards = [
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"]["labels"]
    ]
    assert len(dashboards) == 3
    slugs = ("-dashboard-ml-fleet-overview", "-dashboard-ml-model-detail",
             "-dashboard-ml-monitoring-exporter")  # fmt: skip
    assert all(n.endswith(slugs) for n in dashboards), dashboards
    sts = one(docs, "Deployment")
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert sts["spec"]["serviceName"] in services
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    mounted = {
        v["secret"]["secretName"]
        for v in sts["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    }
    assert mounted <= secrets


def test_short_release_names_keep_their_object_names(chart: Path) -> None:
    names = {d["metadata"]["name"] for d in template(chart, "mlmon", *EVERY_OBJECT)}
    assert {
        "mlmon-ml-monitoring-exporter",
        "mlmon-ml-monitoring-exporter-dashboard-ml-fleet-overview",
        "mlmon-ml-monitoring-exporter-web-config",
        "mlmon-ml-monitoring-exporter-test",
    } <= names


def container(docs: list[Doc]) -> Doc:
    return dict(one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0])


HANDLERS = {
    "tcpSocket": {"port": "metrics"},
    "exec": {"command": ["sh", "-c", "true"]},
    "grpc": {"port": 10135},
    "httpGet": {"path": "/custom", "port": 8080},
}


@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_a_probe_with_its_own_handler_replaces_the_default_one_and_keeps_the_timings(
    chart: Path, handler: str, tmp_path: Path
) -> None:
    """README: 'use tcpSocket probes then'; livenessProbe: {tcpSocket: ...} merged with the default
    httpGet into a probe of two handlers, which the API server refuses."""
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "livenessProbe": {handler: HANDLERS[handler]},
                "readinessProbe": {handler: HANDLERS[handler], "periodSeconds": 3},
                "startupProbe": {handler: HANDLERS[handler], "failureThreshold": 30},
            }
        )
    )
    c = container(render(chart, "-f", str(values)))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert {k: v for k, v in c[probe].items() if k in HANDLERS} == {handler: HANDLERS[handler]}
    assert c["livenessProbe"]["periodSeconds"] == 10 and c["livenessProbe"]["failureThreshold"] == 6
    assert c["readinessProbe"]["periodSeconds"] == 3 and c["readinessProbe"]["timeoutSeconds"] == 5
    assert c["startupProbe"]["failureThreshold"] == 30


def test_a_null_probe_is_left_out(chart: Path, tmp_path: Path) -> None:
    """livenessProbe: null crashed the template (deepCopy of a nil value)."""
    values = tmp_path / "values.yaml"
    values.write_text("livenessProbe: null\nreadinessProbe: null\n")
    c = container(render(chart, "-f", str(values)))
    assert "livenessProbe" not in c and "readinessProbe" not in c and "startupProbe" not in c


def test_the_default_probes_get_their_paths_and_https_behind_tls(chart: Path) -> None:
    c = container(render(chart, "--set", "webConfig.tlsSecret=web-tls"))
    assert c["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "metrics",
        "scheme": "HTTPS",
    }
    assert c["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "metrics",
        "scheme": "HTTPS",
    }
    assert "startupProbe" not in c
    c = container(render(chart, "--set", "startupProbe.failureThreshold=30"))
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}


def test_a_probe_with_two_handlers_is_refused(chart: Path) -> None:
    result = helm(
        "template", "mlmon", str(chart),
        "--set", "livenessProbe.httpGet.path=/healthz",
        "--set", "livenessProbe.tcpSocket.port=metrics",
    )  # fmt: skip
    assert result.returncode != 0
    assert "httpGet and tcpSocket" in result.stderr


def test_the_readme_tcp_socket_values_render_one_handler_each(chart: Path, tmp_path: Path) -> None:
    readme = (chart / "README.md").read_text()
    block = re.search(r"```yaml\n(livenessProbe:.*?)```", readme, re.DOTALL)
    assert block, "the README shows no tcpSocket probe values"
    values = tmp_path / "values.yaml"
    values.write_text(block.group(1))
    c = container(render(chart, "-f", str(values)))
    assert set(c["livenessProbe"]) & set(HANDLERS) == {"tcpSocket"}
    assert set(c["readinessProbe"]) & set(HANDLERS) == {"tcpSocket"}


def test_the_telemetry_path_reaches_the_exporter_the_monitors_and_the_helm_test(
    chart: Path,
) -> None:
    """extraArgs: [--web.telemetry-path=/prom] moved the metrics; every scrape kept /metrics."""
    moved = ("--set", "telemetryPath=/prom", "--set", "helmTest.enabled=true")
    docs = render(chart, *moved)
    assert "--web.telemetry-path=/prom" in container(docs)["args"]
    assert [e["path"] for e in one(docs, "ServiceMonitor")["spec"]["endpoints"]] == ["/prom"]
    script = one(docs, "Pod")["spec"]["containers"][0]["args"][0]
    assert ":10135/prom)" in script and "/metrics" not in script
    pods = render(
        chart, *moved, "--set", "podMonitor.enabled=true", "--set", "serviceMonitor.enabled=false"
    )
    assert [e["path"] for e in one(pods, "PodMonitor")["spec"]["podMetricsEndpoints"]] == ["/prom"]
    default = render(chart)
    assert not [a for a in container(default)["args"] if "telemetry" in a]  # the default
    assert one(default, "ServiceMonitor")["spec"]["endpoints"][0]["path"] == "/metrics"


@pytest.mark.parametrize(
    ("arg", "value"),
    [
        ("--web.telemetry-path=/prom", "telemetryPath"),
        ("--web.listen-address=:9999", "service.port"),
        ("--web.listen=:9999", "service.port"),  # the exporter takes an abbreviated flag too
        ("--web.config.file=/etc/tls/web.yml", "webConfig.config"),
        ("--config.file=/etc/other/config.yaml", "existingConfigMap"),
        ("--log.format=logfmt", "logFormat"),
        ("--shard=0/2", "shards"),
    ],
)
def test_a_flag_the_chart_sets_itself_is_refused_in_extra_args_for_its_value(
    chart: Path, arg: str, value: str
) -> None:
    """--web.listen-address=:9999 there was accepted: the exporter took the later flag while the
    container port, probes, Service and ServiceMonitor stayed on 10135 (pods never ready)."""
    result = helm("template", "mlmon", str(chart), "--set", f"extraArgs={{{arg}}}")
    assert result.returncode != 0
    assert f"extraArgs has {arg}" in result.stderr and value in result.stderr


def test_extra_args_the_chart_leaves_alone_reach_the_exporter(chart: Path) -> None:
    args = container(render(chart, "--set", "extraArgs={--log.level=debug,--version}"))["args"]
    assert args[-2:] == ["--log.level=debug", "--version"]


@pytest.mark.parametrize("path", ["metrics", "/healthz", "/models/x", "/", "/a b"])
def test_a_telemetry_path_the_exporter_would_refuse_fails_the_schema(
    chart: Path, path: str
) -> None:
    result = helm("template", "mlmon", str(chart), "--set-string", f"telemetryPath={path}")
    assert result.returncode != 0
    assert "telemetryPath" in result.stderr
