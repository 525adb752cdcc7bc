"""Options prometheus-community exporter charts have: flags, pod extras, monitors, dashboards."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from tests.test_helm import CHART, ROOT, Doc, helm, one, render, stage_chart

SCHEMA = CHART / "values.schema.json"
CONFIG_SCHEMA = ROOT / "config" / "schema.json"


@functools.cache
def chart_dir() -> Path:
    """The chart, or a resolved copy while alerts/ or dashboards/ is missing."""
    links = [p for p in (CHART / "files").iterdir() if p.is_symlink()]
    if all(p.exists() for p in links):
        return CHART
    return stage_chart(Path(tempfile.mkdtemp(prefix="chart-")))


@functools.cache
def rendered(*args: str) -> tuple[Doc, ...]:
    """`helm template` once per argument list; callers must not change the documents."""
    return tuple(render(chart_dir(), *args))


def ci(name: str) -> tuple[Doc, ...]:
    return rendered("-f", str(CHART / "ci" / f"{name}-values.yaml"))


def kinds(docs: tuple[Doc, ...], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def pod_spec(docs: tuple[Doc, ...]) -> dict[str, Any]:
    return dict(one(list(docs), "Deployment")["spec"]["template"]["spec"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions) selects the labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def sync_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "sync_values_schema", ROOT / "helm" / "sync_values_schema.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Defaults ----------------------------------------------------------------------------------


def test_the_default_values_render_none_of_the_optional_objects_or_pod_extras() -> None:
    docs = rendered()
    assert {d["kind"] for d in docs}.isdisjoint({"PodMonitor", "GrafanaDashboard", "Pod"})
    assert len(kinds(docs, "Service")) == 1
    pod = pod_spec(docs)
    (container,) = pod["containers"]
    assert "initContainers" not in pod
    assert not {"command", "envFrom", "startupProbe"} & container.keys()
    assert container["args"] == ["--web.listen-address=:10135", "--log.format=json"]
    monitor = one(list(docs), "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "models" and "targetLabels" not in monitor["spec"]
    assert "matchExpressions" not in monitor["spec"]["selector"]


# Flags and the pod -------------------------------------------------------------------------


def test_extra_args_set_on_the_command_line_follow_the_charts_own_flags() -> None:
    docs = rendered("--set", "extraArgs={--log.level=debug}")
    (container,) = pod_spec(docs)["containers"]
    assert container["args"] == [
        "--web.listen-address=:10135",
        "--log.format=json",
        "--log.level=debug",
    ]


def test_the_pod_extras_reach_the_pod_spec() -> None:
    values = yaml.safe_load((CHART / "ci" / "pod-extras-values.yaml").read_text())
    pod = pod_spec(ci("pod-extras"))
    exporter, proxy = pod["containers"]
    assert exporter["name"] == "exporter" and proxy == values["extraContainers"][0]
    assert exporter["command"] == values["command"]
    assert exporter["args"][-1] == "--log.level=debug"
    assert exporter["envFrom"] == values["envFrom"]
    assert exporter["startupProbe"] == values["startupProbe"]
    assert pod["initContainers"] == values["initContainers"]
    assert values["extraVolumes"][0] in pod["volumes"]
    assert values["extraVolumeMounts"][0] in exporter["volumeMounts"]
    assert {"name": "REDIS_URL", "value": "redis://redis-master.data:6379/0"} in exporter["env"]


def test_the_startup_probe_switches_to_https_with_the_listener() -> None:
    docs = rendered(
        "--set", "webConfig.tlsSecret=mlmon-web-tls",
        "--set", "startupProbe.httpGet.path=/healthz",
        "--set", "startupProbe.httpGet.port=metrics",
    )  # fmt: skip
    (container,) = pod_spec(docs)["containers"]
    assert container["startupProbe"]["httpGet"]["scheme"] == "HTTPS"


def test_extra_manifests_render_both_as_objects_and_as_templated_strings() -> None:
    docs = ci("extra-manifests")
    config_map = next(d for d in docs if d["metadata"]["name"].endswith("-extra-env"))
    assert config_map["metadata"] == {
        "name": "mlmon-ml-monitoring-exporter-extra-env",
        "namespace": "models",
    }
    assert config_map["data"] == {"LOG_CONTEXT": "mlmon"}
    secret = next(d for d in docs if d["metadata"]["name"] == "mlmon-ml-monitoring-exporter-scrape")
    assert secret["kind"] == "Secret" and secret["stringData"] == {"username": "prometheus"}


# Sharding ----------------------------------------------------------------------------------


def test_three_shards_get_a_headless_service_as_the_statefulsets_service_name() -> None:
    docs = rendered("--set", "shards=3")
    sts = one(list(docs), "Deployment")
    services = {s["metadata"]["name"]: s for s in kinds(docs, "Service")}
    headless = services[sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert (
        headless["spec"]["selector"].items()
        <= sts["spec"]["template"]["metadata"]["labels"].items()
    )
    (plain,) = [s for s in services.values() if s is not headless]
    assert "clusterIP" not in plain["spec"]


def test_the_service_monitor_selects_the_plain_service_and_not_the_headless_one() -> None:
    docs = rendered("--set", "shards=3")
    selector = one(list(docs), "ServiceMonitor")["spec"]["selector"]
    chosen = [s for s in kinds(docs, "Service") if selects(selector, s["metadata"]["labels"])]
    assert [s["spec"].get("clusterIP") for s in chosen] == [None]


# Prometheus Operator -----------------------------------------------------------------------


def test_the_service_monitor_can_live_in_the_monitoring_namespace_and_copy_service_labels() -> None:
    docs = ci("servicemonitor")
    monitor = one(list(docs), "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["models"]}
    assert monitor["spec"]["targetLabels"] == ["team"]
    assert one(list(docs), "Service")["metadata"]["labels"]["team"] == "ml-platform"


def test_a_pod_monitor_scrapes_the_pods_in_place_of_the_service_monitor() -> None:
    values = yaml.safe_load((CHART / "ci" / "podmonitor-values.yaml").read_text())["podMonitor"]
    docs = ci("podmonitor")
    assert not kinds(docs, "ServiceMonitor")
    monitor = one(list(docs), "PodMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["podTargetLabels"] == ["app.kubernetes.io/instance"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "scheme": "http",
        "interval": "15s",
        "scrapeTimeout": "5s",
        "honorLabels": True,
        "relabelings": values["relabelings"],
        "metricRelabelings": values["metricRelabelings"],
    }
    pod = one(list(docs), "Deployment")["spec"]["template"]
    assert selects(monitor["spec"]["selector"], pod["metadata"]["labels"])
    assert "metrics" in [p["name"] for p in pod["spec"]["containers"][0]["ports"]]


def test_a_pod_monitor_next_to_the_service_monitor_is_refused() -> None:
    result = helm("template", "mlmon", str(chart_dir()), "--set", "podMonitor.enabled=true")
    assert result.returncode != 0
    assert "podMonitor.enabled" in result.stderr


# Dashboards --------------------------------------------------------------------------------


def test_each_shipped_dashboard_becomes_a_grafana_dashboard_holding_its_file() -> None:
    def slug(path: Path) -> str:
        return path.stem.lower().replace("_", "-").replace(".", "-")

    files = {
        f"mlmon-ml-monitoring-exporter-{slug(p)}": p.read_text()
        for p in (ROOT / "dashboards").glob("*.json")
    }
    docs = ci("grafana-operator")
    sidecar = [
        d for d in kinds(docs, "ConfigMap") if "grafana_dashboard" in d["metadata"]["labels"]
    ]
    assert sidecar == []
    boards = kinds(docs, "GrafanaDashboard")
    assert {b["metadata"]["name"]: b["spec"]["json"] for b in boards} == files
    for board in boards:
        assert board["apiVersion"] == "grafana.integreatly.org/v1beta1"
        assert board["metadata"]["namespace"] == "grafana"
        spec = board["spec"]
        assert spec["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}}
        assert spec["folder"] == "ML models"
        assert spec["allowCrossNamespaceImport"] is True and spec["resyncPeriod"] == "10m"


# helm test ---------------------------------------------------------------------------------


def test_the_helm_test_pod_is_a_test_hook_the_workload_and_service_never_select() -> None:
    docs = ci("helm-test")
    (pod,) = kinds(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    labels = pod["metadata"]["labels"]
    workload = one(list(docs), "Deployment")["spec"]["selector"]
    assert not selects(workload, labels)
    assert not one(list(docs), "Service")["spec"]["selector"].items() <= labels.items()
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    script = container["args"][0]
    assert "http://mlmon-ml-monitoring-exporter.models.svc:10135/readyz" in script
    assert "http://mlmon-ml-monitoring-exporter.models.svc:10135/metrics" in script


def test_the_network_policy_admits_the_helm_test_pod_and_limits_egress_when_asked() -> None:
    docs = ci("helm-test")
    (pod,) = kinds(docs, "Pod")
    policy = one(list(docs), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    metrics, extra = policy["ingress"]
    peers = [p["podSelector"] for p in metrics["from"] if "podSelector" in p and len(p) == 1]
    assert any(selects(p, pod["metadata"]["labels"]) for p in peers)
    assert extra["ports"] == [{"port": 8443, "protocol": "TCP"}]
    assert [r["ports"][0]["port"] for r in policy["egress"]] == [6379, 53]


def test_a_min_available_replaces_max_unavailable_in_the_disruption_budget() -> None:
    spec = one(list(ci("helm-test")), "PodDisruptionBudget")["spec"]
    assert spec["minAvailable"] == 1 and "maxUnavailable" not in spec


class _Exporter(http.server.BaseHTTPRequestHandler):
    """A stand-in for the exporter: /readyz and /metrics answer, anything else is 404."""

    bodies: ClassVar[dict[str, bytes]] = {
        "/readyz": b"ready\n",
        "/metrics": b"# TYPE mlmon_up gauge\nmlmon_up 1\n",
    }

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def exporter_url() -> Iterator[tuple[str, type[_Exporter]]]:
    handler = type("Handler", (_Exporter,), {"bodies": dict(_Exporter.bodies)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_the_helm_test_script_passes_on_a_ready_exporter_and_fails_without_mlmon_series(
    exporter_url: tuple[str, type[_Exporter]],
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    url, handler = exporter_url
    (pod,) = kinds(ci("helm-test"), "Pod")
    script = pod["spec"]["containers"][0]["args"][0]
    script = script.replace("http://mlmon-ml-monitoring-exporter.models.svc:10135", url)
    script = script.replace("--retry 5", "--retry 0")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-ec", script], capture_output=True, text=True, timeout=60)

    assert run().returncode == 0
    handler.bodies["/metrics"] = b"# nothing of ours\n"
    assert run().returncode != 0
    del handler.bodies["/readyz"]
    handler.bodies["/metrics"] = _Exporter.bodies["/metrics"]
    assert run().returncode != 0


# The values schema -------------------------------------------------------------------------


def test_the_values_schema_embeds_config_schema_json_unchanged() -> None:
    sync = sync_module()
    values = json.loads(SCHEMA.read_text())
    assert sync.extracted(values) == json.loads(CONFIG_SCHEMA.read_text())
    assert SCHEMA.read_text() == sync.expected(), "run: python helm/sync_values_schema.py"


def test_a_misspelt_config_key_fails_helm_lint_strict(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    model = {
        "name": "fraud",
        "task": "regression",
        "reference": {"redis_key": "mlmon:{fraud}:reference"},
        "features": [{"name": "amount", "type": "numeric"}],
    }
    values.write_text(yaml.safe_dump({"config": {"models": [model]}}))
    assert helm("lint", "--strict", str(chart_dir()), "-f", str(values)).returncode == 0
    values.write_text(yaml.safe_dump({"config": {"models": [{**model, "feature": "x"}]}}))
    result = helm("lint", "--strict", str(chart_dir()), "-f", str(values))
    assert result.returncode != 0
    assert "/config/models/0" in result.stdout + result.stderr
    assert "'feature' not allowed" in result.stdout + result.stderr


def _value_keys(values: dict[str, Any], schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Every values.yaml key the schema declares with properties of its own, config aside."""
    for key, value in values.items():
        here = f"{path}{key}"
        if here == "config":
            continue
        node = schema["properties"][key]
        yield here
        if isinstance(value, dict) and "properties" in node:
            yield from _value_keys(value, node, f"{here}.")


def test_every_value_has_a_schema_description() -> None:
    schema = json.loads(SCHEMA.read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    undescribed = []
    for key in _value_keys(values, schema):
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
        if not node.get("description"):
            undescribed.append(key)
    assert undescribed == []


def _notes(*args: str) -> str:
    """The NOTES helm prints after an install, rendered client-side (no cluster)."""
    result = helm("install", "mlmon", str(chart_dir()), "--dry-run=client", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


def test_the_install_notes_curl_the_scheme_and_login_the_listener_takes() -> None:
    """They printed curl http:// with TLS on (curl exit 52) and no login with basic auth."""
    assert "curl -s http://127.0.0.1:10135/readyz" in _notes()
    users = '{"basic_auth_users": {"ops": "$2y$10$abcdefghijklmnopqrstuv"}}'
    notes = _notes(
        "--set", "webConfig.tlsSecret=web-tls", "--set-json", f"webConfig.config={users}"
    )
    assert "curl -sk https://127.0.0.1:10135/readyz" in notes
    assert "curl -sk -u <user>:<password> https://127.0.0.1:10135/metrics" in notes
    assert "http://" not in notes
