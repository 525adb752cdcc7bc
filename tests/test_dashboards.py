"""The Grafana dashboards import cleanly, follow our conventions and read only declared metrics."""

from __future__ import annotations

import copy
import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.build import DASHBOARDS, render
from dashboards.grafana import CLUSTER
from dashboards.lint import breaches, metric_names, panels, queries, selectors, variable_metrics
from dashboards.schema import losses, type_errors
from exporter.expose.catalog import BY_NAME
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "ml-monitoring.rules.yml"
UIDS = {
    "ml-fleet-overview.json": "mlmon-fleet-overview",
    "ml-model-detail.json": "mlmon-model-detail",
    "ml-monitoring-exporter.json": "mlmon-exporter",
}
# Series Prometheus itself writes for every target or alert: not in the exporter's catalog.
PROMETHEUS_SERIES = frozenset({"up", "ALERTS", "scrape_duration_seconds", "scrape_samples_scraped"})
# Labels Prometheus or Kubernetes service discovery add to every series of a target; `cluster`
# is the external (or target) label of a multi-cluster setup, as kube-prometheus-stack's.
TARGET_LABELS = frozenset({"cluster", "namespace", "job", "instance"})
ALERT_LABELS = frozenset({"alertname", "alertstate", "severity"})


def promtool_passes(tmp_path: Path, case: dict[str, Any]) -> None:
    """Run one promtool unit test case (its own input series and checks) and assert it passed."""
    (tmp_path / "rules.yml").write_text("groups: []\n")
    test_file = tmp_path / "panel_test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": ["rules.yml"], "tests": [case]}))
    done = subprocess.run(
        [require_tool("promtool"), "test", "rules", str(test_file)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def load(name: str) -> dict[str, Any]:
    """A committed dashboard file."""
    return dict(json.loads((ROOT / "dashboards" / name).read_text()))


def recording_rules() -> set[str]:
    """Names recorded by the alerts/ rules file, when it exists."""
    if not RULES.exists():
        return set()
    doc = yaml.safe_load(RULES.read_text()) or {}
    return {r["record"] for g in doc.get("groups", []) for r in g.get("rules", []) if "record" in r}


def declared(name: str, recorded: set[str]) -> bool:
    """In the catalog (histograms with their series suffixes), Prometheus's own, or recorded."""
    if name in BY_NAME or name in PROMETHEUS_SERIES or name in recorded:
        return True
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base in BY_NAME and BY_NAME[base].kind == "histogram"


def known_labels(name: str) -> frozenset[str]:
    """Labels a selector of `name` may match on."""
    if name == "ALERTS":
        return ALERT_LABELS | {"model"} | TARGET_LABELS
    if ":" in name:  # a recording rule: its level names the labels it keeps
        return TARGET_LABELS | frozenset(name.split(":")[0].split("_"))
    spec = BY_NAME.get(re.sub(r"_(bucket|sum|count)$", "", name))
    extra = {"le"} if name.endswith("_bucket") else set()
    return TARGET_LABELS | frozenset(spec.labels if spec else ()) | extra


FILES = sorted(DASHBOARDS)


@pytest.mark.parametrize("name", FILES)
def test_committed_dashboard_is_what_the_generator_writes(name: str) -> None:
    assert (ROOT / "dashboards" / name).read_text() == render(DASHBOARDS[name]), (
        f"{name} is out of date: run python -m dashboards.build"
    )


@pytest.mark.parametrize("name", FILES)
def test_dashboard_follows_every_convention(name: str) -> None:
    assert breaches(load(name)) == []


@pytest.mark.parametrize("name", FILES)
def test_dashboard_has_its_stable_uid_and_no_numeric_id(name: str) -> None:
    d = load(name)
    assert d["uid"] == UIDS[name]
    assert d["id"] is None
    assert all(isinstance(p["id"], int) for p in panels(d))


@pytest.mark.parametrize("name", FILES)
def test_every_metric_name_in_every_query_is_declared(name: str) -> None:
    recorded = recording_rules()
    d = load(name)
    used = {n for q in queries(d) for n in metric_names(q.expr)}
    used |= {metric for _, metric in variable_metrics(d)}
    assert used, "no query found"
    assert sorted(n for n in used if not declared(n, recorded)) == []


@pytest.mark.parametrize("name", FILES)
def test_every_label_matcher_names_a_label_the_metric_has(name: str) -> None:
    unknown = []
    for q in queries(load(name)):
        for metric in metric_names(q.expr):
            for matchers in selectors(q.expr, metric):
                labels = set(re.findall(r"(\w+)\s*[=!]~?\s*\"", matchers))
                unknown += [
                    f"{q.panel}: {metric}{{{label}}}" for label in labels - known_labels(metric)
                ]
    assert unknown == []


@pytest.mark.parametrize("name", FILES)
def test_dashboard_survives_grafanas_own_dashboard_model_without_losing_a_field(name: str) -> None:
    assert losses(load(name)) == []


@pytest.mark.parametrize("name", FILES)
def test_every_value_has_the_type_grafanas_dashboard_model_declares(name: str) -> None:
    assert type_errors(load(name)) == []


def test_grafanas_model_drops_a_fixed_color_beside_the_color_mode() -> None:
    d = copy.deepcopy(load("ml-fleet-overview.json"))
    defaults = _first(d, "stat")["fieldConfig"]["defaults"]
    defaults["fixedColor"] = defaults["color"].pop("fixedColor")
    assert [f for f in losses(d) if "defaults.fixedColor" in f]


def test_grafanas_model_rejects_a_value_outside_an_enum() -> None:
    d = copy.deepcopy(load("ml-fleet-overview.json"))
    _first(d, "stat")["fieldConfig"]["defaults"]["color"]["mode"] = "fixd"
    assert [e for e in type_errors(d) if "color.mode" in e]


@pytest.mark.parametrize("name", FILES)
def test_no_panel_keeps_a_fixed_color_outside_its_color_object(name: str) -> None:
    kept = [
        p["title"]
        for p in panels(load(name))
        if "fixedColor" in p.get("fieldConfig", {}).get("defaults", {})
    ]
    assert kept == []


@pytest.mark.parametrize("name", FILES)
def test_every_stat_panel_is_blue_until_a_value_mapping_colours_it(name: str) -> None:
    stats = [p for p in panels(load(name)) if p["type"] == "stat"]
    assert stats
    assert all(
        p["fieldConfig"]["defaults"]["color"] == {"mode": "fixed", "fixedColor": "blue"}
        for p in stats
    )


@pytest.mark.parametrize("name", FILES)
def test_dashboard_has_kube_prometheus_stacks_hidden_cluster_variable(name: str) -> None:
    variables = load(name)["templating"]["list"]
    cluster = next(v for v in variables if v["name"] == "cluster")
    assert cluster["hide"] == 2 and not cluster["includeAll"] and not cluster["multi"]
    assert cluster["definition"] == "label_values(mlmon_build_info, cluster)"
    assert [v["name"] for v in variables][:3] == ["datasource", "cluster", "namespace"]


@pytest.mark.parametrize("name", FILES)
def test_every_selector_of_every_query_and_variable_matches_the_cluster(name: str) -> None:
    d = load(name)
    missing = [
        f"{q.panel} [{q.ref}]: {metric}"
        for q in queries(d)
        for metric in metric_names(q.expr)
        for matchers in selectors(q.expr, metric)
        if CLUSTER not in matchers
    ]
    missing += [
        v["name"]
        for v in d["templating"]["list"]
        if v["type"] == "query" and v["name"] != "cluster" and CLUSTER not in v["definition"]
    ]
    assert missing == []


def test_model_dashboard_offers_datasource_namespace_model_feature_segment_and_exporter_url() -> (
    None
):
    variables = load("ml-model-detail.json")["templating"]["list"]
    assert [v["name"] for v in variables if v.get("hide") != 2] == [
        "datasource",
        "namespace",
        "model",
        "feature",
        "segment",
        "segment_value",
        "exporter_url",
    ]


def test_segment_values_follow_the_chosen_segments_and_all_matches_every_value() -> None:
    variables = {v["name"]: v for v in load("ml-model-detail.json")["templating"]["list"]}
    assert 'segment=~"$segment"' in variables["segment_value"]["definition"]
    assert 'model="$model"' in variables["segment"]["definition"]
    for name in ("segment", "segment_value"):
        assert (variables[name]["allValue"], variables[name]["multi"]) == (".*", True)


def test_the_worst_segments_table_puts_the_most_drifted_segment_value_first() -> None:
    (worst,) = [p for p in panels(load("ml-model-detail.json")) if p["title"] == "Worst segments"]
    assert worst["options"]["sortBy"] == [{"displayName": "Drift share", "desc": True}]
    exprs = [t["expr"] for t in worst["targets"]]
    assert "mlmon_segment_drift_share_ratio" in exprs[0]
    assert any("mlmon_segment_samples" in e for e in exprs)
    assert any("mlmon_segment_evaluated" in e for e in exprs)


def test_the_versions_row_shows_champion_performance_p_values_and_decisions() -> None:
    detail = load("ml-model-detail.json")
    read = {name for q in queries(detail) for name in metric_names(q.expr)}
    assert {
        "mlmon_version_champion_info",
        "mlmon_version_performance_ratio",
        "mlmon_version_regression_error",
        "mlmon_version_loss",
        "mlmon_version_comparison_p_value",
        "mlmon_version_worse",
        "mlmon_version_labeled_samples",
        "mlmon_version_prediction_drift_score",
    } <= read
    rows = [p["title"] for p in panels(detail) if p["type"] == "row"]
    assert "Versions: challengers against the champion" in rows and "Segments" in rows


def test_model_dashboard_links_to_the_exporters_drill_down_page_for_the_model() -> None:
    dashboard = load("ml-model-detail.json")
    links = [link for link in dashboard["links"] if link["type"] == "link"]
    assert [link["url"] for link in links] == ["${exporter_url}/models/${model}"]


def test_exporter_url_is_the_external_url_else_the_scraped_address_never_the_grafana_host() -> None:
    variables = {v["name"]: v for v in load("ml-model-detail.json")["templating"]["list"]}
    url = variables["exporter_url"]
    query = url["definition"]
    assert query.startswith("query_result(") and url["regex"] == '/url="([^"]+)"/'
    assert 'external_url!=""}, "url", "$1", "external_url"' in query  # web.external_url, if set
    assert 'external_url=""}, "url", "http://$1", "instance"' in query  # else where it is scraped
    assert url["allowCustomValue"] and not url["includeAll"]  # a port-forward can be typed in


def test_fleet_table_links_each_model_to_the_model_dashboard() -> None:
    d = load("ml-fleet-overview.json")
    urls = [v for _, key, v in _links(d) if key == "url"]
    assert urls and all(u.startswith(f"/d/{UIDS['ml-model-detail.json']}/") for u in urls)
    assert all("var-model=${__value.raw}" in u and "${datasource:queryparam}" in u for u in urls)
    assert all("${cluster:queryparam}" in u and "${namespace:queryparam}" in u for u in urls)


def _links(d: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Keys of every data link in the dashboard's overrides."""
    out = []
    for p in panels(d):
        for o in p.get("fieldConfig", {}).get("overrides", []):
            for prop in o["properties"]:
                if prop["id"] == "links":
                    out += [(p["title"], k, v) for link in prop["value"] for k, v in link.items()]
    return out


def _first(d: dict[str, Any], kind: str = "timeseries") -> dict[str, Any]:
    return next(p for p in d["panels"] if p["type"] == kind)


def _mutations() -> list[tuple[str, Any]]:
    """One breach of each convention, applied to a copy of the model dashboard."""

    def hard_uid(d: dict[str, Any]) -> None:
        _first(d)["targets"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}

    def inputs(d: dict[str, Any]) -> None:
        d["__inputs"] = [{"name": "DS_PROMETHEUS", "type": "datasource"}]

    def no_unit(d: dict[str, Any]) -> None:
        del _first(d)["fieldConfig"]["defaults"]["unit"]

    def no_description(d: dict[str, Any]) -> None:
        _first(d)["description"] = ""

    def fixed_rate(d: dict[str, Any]) -> None:
        t = next(t for p in panels(d) for t in p.get("targets", []) if "rate(" in t["expr"])
        t["expr"] = t["expr"].replace("$__rate_interval", "5m")

    def typed_threshold(d: dict[str, Any]) -> None:
        _first(d)["fieldConfig"]["defaults"]["thresholds"]["steps"].append(
            {"color": "red", "value": 0.2}
        )

    def literal_comparison(d: dict[str, Any]) -> None:
        _first(d)["targets"][0]["expr"] += " > 0.2"

    def no_namespace(d: dict[str, Any]) -> None:
        t = _first(d)["targets"][0]
        t["expr"] = t["expr"].replace('namespace=~"$namespace", ', "")

    def no_all_value(d: dict[str, Any]) -> None:
        next(v for v in d["templating"]["list"] if v["name"] == "namespace").pop("allValue")

    def no_cluster(d: dict[str, Any]) -> None:
        t = _first(d)["targets"][0]
        t["expr"] = t["expr"].replace('cluster="$cluster", ', "")

    def cluster_shown(d: dict[str, Any]) -> None:
        next(v for v in d["templating"]["list"] if v["name"] == "cluster")["hide"] = 0

    def variable_without_cluster(d: dict[str, Any]) -> None:
        model = next(v for v in d["templating"]["list"] if v["name"] == "model")
        model["definition"] = model["definition"].replace('cluster="$cluster", ', "")

    def fixed_color_beside_mode(d: dict[str, Any]) -> None:
        defaults = _first(d, "stat")["fieldConfig"]["defaults"]
        defaults["fixedColor"] = defaults["color"].pop("fixedColor")

    return [
        ("hard-coded uid", hard_uid),
        ("__inputs", inputs),
        ("no unit", no_unit),
        ("no description", no_description),
        ("fixed rate range", fixed_rate),
        ("typed-in threshold", typed_threshold),
        ("literal comparison", literal_comparison),
        ("namespace matcher dropped", no_namespace),
        ("namespace all value", no_all_value),
        ("cluster matcher dropped", no_cluster),
        ("cluster variable shown", cluster_shown),
        ("variable without cluster", variable_without_cluster),
        ("fixedColor beside the colour mode", fixed_color_beside_mode),
    ]


@pytest.mark.parametrize(("breach", "mutate"), _mutations(), ids=[m[0] for m in _mutations()])
def test_lint_reports_each_kind_of_breach(breach: str, mutate: Any) -> None:
    d = copy.deepcopy(load("ml-model-detail.json"))
    mutate(d)
    assert len(breaches(d)) >= 1, breach


def test_undeclared_metric_name_is_caught() -> None:
    expr = (
        'sum by (model) (rate(mlmon_predictons_total{namespace=~"$namespace"}[$__rate_interval]))'
    )
    assert metric_names(expr) == {"mlmon_predictons_total"}
    assert not declared("mlmon_predictons_total", set())


def test_the_drift_timeline_is_red_only_for_features_the_exporter_says_drifted(
    tmp_path: Path,
) -> None:
    """The panel turned a raw p-value below its threshold red, while the correction across
    features had cleared the feature (mlmon_feature_drift_detected 0, no alert)."""
    (panel,) = [
        p
        for p in panels(load("ml-model-detail.json"))
        if p["title"] == "Drift by feature over time"
    ]
    expr = panel["targets"][0]["expr"]
    for name, value in (("cluster", ""), ("namespace", ".*"), ("model", "m"), ("feature", ".*")):
        expr = expr.replace(f"${name}", value)
    labels = 'model="m", feature="{}", method="{}", instance="{}"'
    series = []
    for (feature, method, metric, value), instance in itertools.product((
        ("cleared", "ks", "p_value", 0.02), ("cleared", "ks", "threshold", 0.05),
        ("cleared", "ks", "detected", 0), ("tested", "ks", "p_value", 0.001),
        ("tested", "ks", "threshold", 0.05), ("tested", "ks", "detected", 1),
        ("distance", "psi", "score", 0.4), ("distance", "psi", "threshold", 0.2),
        ("distance", "psi", "detected", 1), ("calm", "psi", "score", 0.05),
        ("calm", "psi", "threshold", 0.1), ("calm", "psi", "detected", 0),
    ), ("a", "b")):  # fmt: skip
        selector = labels.format(feature, method, instance)
        series.append(
            {"series": f"mlmon_feature_drift_{metric}{{{selector}}}", "values": f"{value}x5"}
        )
    expected = [  # red is 1 and above; one row per feature however many replicas export it
        {"labels": f'{{model="m", feature="{f}"}}', "value": v}
        for f, v in (("cleared", 0.99), ("tested", 10), ("distance", 2), ("calm", 0.5))
    ]
    check = {"expr": expr, "eval_time": "2m", "exp_samples": expected}
    case = {"interval": "1m", "input_series": series, "promql_expr_test": [check]}
    promtool_passes(tmp_path, case)


# Replicas (the chart's replicaCount) each read every stream, so two pods export the same counts
# of the same model: a query may take a model's series once across pods (max by its own labels)
# and then sum versions, reasons or models, but never sum or count them over pods directly.
# Histogram buckets are exempt (a quantile is the same over doubled buckets) and so are counts of
# each process's own failures, which every replica has on its own.
PER_PROCESS = frozenset({"mlmon_evaluation_failures_total", "mlmon_reference_lost_total"})
AGGREGATION = re.compile(r"\b(sum|count|max|min|avg|group)\s*(?:(by|without)\s*\(([^)]*)\))?\s*\(")
PER_MODEL_COUNTERS = {
    name: frozenset({"namespace", *spec.labels})
    for name, spec in BY_NAME.items()
    if spec.kind == "counter" and "model" in spec.labels and name not in PER_PROCESS
}
PER_MODEL_SERIES = re.compile(
    r"(?<![\w:])(ALERTS|"
    + "|".join(
        re.escape(name) + (r"(?:_count|_sum)" if spec.kind == "histogram" else "")
        for name, spec in BY_NAME.items()
        if "model" in spec.labels and name not in PER_PROCESS
    )
    + r")(?![\w:])"
)


def _closing(expr: str, start: int) -> int:
    """The index just past the parenthesis that closes the one opened before `start`."""
    depth, i = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        i += 1
    return i


def _top_level(argument: str) -> str:
    """An aggregation's argument with every aggregation nested in it blanked out."""
    while m := AGGREGATION.search(argument):
        argument = argument[: m.start()] + " " + argument[_closing(argument, m.end()) :]
    return argument


def replica_sums(expr: str) -> list[str]:
    """Aggregations that add up per-model series over the pods exporting them."""
    found = []
    for m in AGGREGATION.finditer(expr):
        op, mode, labels = (
            m.group(1),
            m.group(2),
            {s.strip() for s in (m.group(3) or "").split(",")},
        )
        argument = _top_level(expr[m.end() : _closing(expr, m.end()) - 1])
        names = set(PER_MODEL_SERIES.findall(argument))
        if op in ("sum", "count") and names and not (mode == "by" and "instance" in labels):
            found.append(f"{m.group(0)}...: {op} over pods of {sorted(names)}")
        if op == "max" and mode == "by":
            for name in sorted(names & PER_MODEL_COUNTERS.keys()):
                if not PER_MODEL_COUNTERS[name] <= labels:
                    found.append(
                        f"{m.group(0)}...: drops {sorted(PER_MODEL_COUNTERS[name] - labels)}"
                    )
    return found


@pytest.mark.parametrize("name", FILES)
def test_no_query_sums_a_models_series_over_its_replica_pods(name: str) -> None:
    summed = [f"{q.panel} {q.ref}: {s}" for q in queries(load(name)) for s in replica_sums(q.expr)]
    annotations = load(name).get("annotations", {}).get("list", [])
    summed += [f"annotation: {s}" for a in annotations for s in replica_sums(a.get("expr", ""))]
    assert summed == []


@pytest.mark.parametrize(
    ("expr", "found"),
    [
        ('sum by (namespace, model) (rate(mlmon_predictions_total{model="m"}[5m]))', 1),
        ("sum(mlmon_dataset_drift_detected)", 1),
        ("count by (namespace, model) (ALERTS)", 1),
        ("max by (namespace, model) (rate(mlmon_predictions_total[5m]))", 1),  # sums no version
        ("sum by (namespace, model) (max by (namespace, model, version) "
         "(rate(mlmon_predictions_total[5m])))", 0),
        ("sum by (namespace, job, instance, model) (rate(mlmon_predictions_total[5m]))", 0),
        ("histogram_quantile(0.9, sum by (model, le) (rate(mlmon_label_delay_seconds_bucket[5m])))",
         0),
        ("sum by (model) (increase(mlmon_evaluation_failures_total[5m]))", 0),
    ],
)  # fmt: skip
def test_the_replica_sum_check_tells_a_sum_over_pods_from_one_over_versions(
    expr: str, found: int
) -> None:
    assert len(replica_sums(expr)) == found, replica_sums(expr)


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("ml-fleet-overview.json", "Volume by model"),
        ("ml-fleet-overview.json", "Predictions per second"),
        ("ml-model-detail.json", "Volume"),
        ("ml-model-detail.json", "Volume by version"),
    ],
)
def test_two_replicas_of_a_model_show_its_volume_once(
    name: str, title: str, tmp_path: Path
) -> None:
    """replicaCount: 2 doubled every volume: each pod reads every stream and the panels summed
    mlmon_predictions_total over the pods."""
    (panel,) = [p for p in panels(load(name)) if p["title"] == title]
    expr = panel["targets"][0]["expr"]
    for var, value in (("cluster", ""), ("namespace", ".*"), ("model", "m")):
        expr = expr.replace(f"${var}", value)
    expr = expr.replace("$__rate_interval", "5m")
    series = [
        {
            "series": f'mlmon_predictions_total{{namespace="ns", model="m", version="v1", '
            f'instance="{pod}:10135", pod="{pod}"}}',
            "values": "0+60x30",
        }
        for pod in ("a", "b")
    ]
    labels = {
        "Volume by model": '{namespace="ns", model="m"}',
        "Predictions per second": "{}",
        "Volume": '{namespace="ns", model="m"}',
        "Volume by version": '{namespace="ns", model="m", version="v1"}',
    }[title]
    check = {"expr": expr, "eval_time": "20m", "exp_samples": [{"labels": labels, "value": 1}]}
    case = {"interval": "1m", "input_series": series, "promql_expr_test": [check]}
    promtool_passes(tmp_path, case)


def test_segment_performance_is_drawn_against_the_bound_each_segment_value_is_held_to() -> None:
    """MLMonSegmentPerformanceOutOfBounds compares a value with its own bound (its baseline less
    max_drop and a sampling allowance); the panel drew the model's, so an alert on a segment
    above the model's min showed no line it had crossed."""
    panel = next(
        p
        for p in panels(load("ml-model-detail.json"))
        if p["title"] == "Realised performance by segment"
    )
    dashed = [t for t in panel["targets"] if t["legendFormat"].startswith(("min ", "max "))]
    assert len(dashed) == 2
    for target in dashed:
        assert "mlmon_segment_performance_" in target["expr"]
        assert "{{segment_value}}" in target["legendFormat"]
