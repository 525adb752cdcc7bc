"""The Helm chart as a cluster operator meets it: lint, schema, secure pod, one source of truth."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from exporter import __version__
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "ml-monitoring-exporter"
RULES = ROOT / "alerts" / "ml-monitoring.rules.yml"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
CORE_KINDS = {
    "Deployment",
    "StatefulSet",
    "Service",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Pod",
}
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

Doc = dict[str, Any]


def tool(name: str, *also: Path) -> str:
    """A tool from the PATH, else from the test interpreter's bin/ or the given places."""
    if shutil.which(name) is None:
        for path in (Path(sys.executable).parent / name, *also):
            if os.access(path, os.X_OK):
                return str(path)
    return require_tool(name)


def helm_binary() -> str:
    """helm from the PATH, else the one scripts/fetch-helm.sh put in .cache/."""
    return tool("helm", ROOT / ".cache" / "helm" / "helm")


def stage_chart(
    dest: Path, rules: str | None = None, dashboards: dict[str, str] | None = None
) -> Path:
    """A copy of the chart with symlinks resolved and, when given, other rules/dashboards."""
    chart = dest / "ml-monitoring-exporter"
    shutil.copytree(CHART, chart, symlinks=True)
    files = chart / "files"
    for link in [p for p in files.iterdir() if p.is_symlink()]:
        target = (CHART / "files" / link.name).resolve()
        link.unlink()
        if target.is_dir():
            shutil.copytree(target, link)
    if rules is not None:
        shutil.rmtree(files / "alerts", ignore_errors=True)
        (files / "alerts").mkdir()
        (files / "alerts" / "ml-monitoring.rules.yml").write_text(rules)
    if dashboards is not None:
        shutil.rmtree(files / "dashboards", ignore_errors=True)
        (files / "dashboards").mkdir()
        for name, text in dashboards.items():
            (files / "dashboards" / name).write_text(text)
    return chart


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chart itself, or a resolved copy while alerts/ or dashboards/ is not written yet."""
    links = [p for p in (CHART / "files").iterdir() if p.is_symlink()]
    if all(p.exists() for p in links):
        return CHART
    return stage_chart(tmp_path_factory.mktemp("chart"))


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run helm and capture its output."""
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120)


def render(chart: Path, *args: str) -> list[Doc]:
    """`helm template` of the chart, as parsed documents."""
    result = helm("template", "mlmon", str(chart), "--namespace", "models", *args)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def one(docs: list[Doc], kind: str) -> Doc:
    """The single rendered object of a kind ("Deployment" also finds the sharded StatefulSet)."""
    kinds = {kind, "StatefulSet"} if kind == "Deployment" else {kind}
    found = [d for d in docs if d["kind"] in kinds]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def values_args(values: Path | None) -> list[str]:
    return [] if values is None else ["-f", str(values)]


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_helm_lint_strict_passes_for_the_defaults_and_every_ci_values_file(
    chart: Path, values: Path | None
) -> None:
    result = helm("lint", "--strict", str(chart), *values_args(values))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_rendered_core_objects_validate_against_the_kubernetes_schemas(
    chart: Path, values: Path | None
) -> None:
    docs = render(chart, *values_args(values))
    core = [d for d in docs if d["kind"] in CORE_KINDS]
    assert any(d["kind"] in ("Deployment", "StatefulSet") for d in core)
    for doc in core:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_full_ci_values_render_every_optional_object(chart: Path) -> None:
    kinds = {d["kind"] for d in render(chart, "-f", str(CHART / "ci" / "full-values.yaml"))}
    assert {
        "ServiceMonitor",
        "AlertmanagerConfig",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Secret",
    } <= kinds


def test_the_pod_runs_as_a_numeric_non_root_user_with_a_read_only_root_and_no_token(
    chart: Path,
) -> None:
    pod = one(render(chart), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_a_misspelt_values_key_fails_helm_template_through_the_schema(
    chart: Path, tmp_path: Path
) -> None:
    typo = tmp_path / "values.yaml"
    typo.write_text("serviceMonitor:\n  enabeld: true\n")
    result = helm("template", "mlmon", str(chart), "-f", str(typo))
    assert result.returncode != 0
    assert "enabeld" in result.stderr


def test_the_prometheus_rule_groups_equal_the_rules_file(chart: Path) -> None:
    rules = [d for d in render(chart) if d["kind"] == "PrometheusRule"]
    if not RULES.exists():
        assert rules == [], "a PrometheusRule rendered without alerts/ml-monitoring.rules.yml"
        return
    (rule,) = rules
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_each_dashboard_config_map_holds_exactly_the_json_of_its_file(chart: Path) -> None:
    files = {p.name: p.read_text() for p in (ROOT / "dashboards").glob("*.json")}
    maps = [d for d in render(chart) if d["metadata"].get("labels", {}).get("grafana_dashboard")]
    held = {k: v for m in maps for k, v in m["data"].items()}
    assert held == files
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)
    assert all(len(m["data"]) == 1 for m in maps)


def container_env(docs: list[Doc]) -> dict[str, str]:
    """The environment the exporter container gets; secret values become placeholders."""
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    container = next(c for c in containers if c["name"] == "exporter")
    return {e["name"]: str(e.get("value", "placeholder")) for e in container.get("env", [])}


def test_the_rendered_config_yaml_passes_check_config(chart: Path, tmp_path: Path) -> None:
    checked: set[tuple[str, str]] = set()  # many values files render the same config: check once
    for values in [None, *CI_VALUES]:
        docs = render(chart, *values_args(values))
        maps = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
        for cm in maps:
            seen = (cm["data"]["config.yaml"], repr(sorted(container_env(docs).items())))
            if seen in checked:
                continue
            checked.add(seen)
            path = tmp_path / "config.yaml"
            path.write_text(cm["data"]["config.yaml"])
            result = subprocess.run(
                [sys.executable, "-m", "exporter", "check-config", f"--config.file={path}"],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=ROOT,
                env={**env, **container_env(docs)},
            )
            assert result.returncode == 0, f"{values}: {result.stderr}"


def test_an_existing_config_map_and_secret_replace_the_charts_own(chart: Path) -> None:
    docs = render(chart, "-f", str(CHART / "ci" / "existing-objects-values.yaml"))
    assert not [d for d in docs if d["kind"] in ("ConfigMap", "Secret")]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    config = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config["configMap"]["name"] == "my-exporter-config"
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "my-redis",
        "key": "password",
    }


def test_a_config_change_rolls_the_pod_through_its_checksum(chart: Path) -> None:
    def checksum(*args: str) -> str:
        pod = one(render(chart, *args), "Deployment")["spec"]["template"]
        return str(pod["metadata"]["annotations"]["checksum/config"])

    assert checksum() == checksum()
    assert checksum() != checksum("--set", "config.log_level=debug")


def test_the_chart_app_version_is_the_exporter_version() -> None:
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"] == __version__


def test_shards_render_a_statefulset_whose_pods_take_their_ordinal_as_shard(chart: Path) -> None:
    docs = render(chart, "--set", "shards=3")
    sts = one(docs, "Deployment")
    assert sts["kind"] == "StatefulSet"
    assert not [d for d in docs if d.get("kind") == "Deployment"]
    assert sts["spec"]["replicas"] == 3
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--shard=auto/3" in args
    from exporter.daemon.shard import parse_shard

    pods = [f"{sts['metadata']['name']}-{i}" for i in range(3)]
    assert sorted(parse_shard("auto/3", hostname=p).index for p in pods) == [0, 1, 2]
