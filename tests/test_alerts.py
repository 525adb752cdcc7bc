"""The alert rules, their promtool tests, runbooks and the example Alertmanager routing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config.performance import LOWER_IS_BETTER
from exporter.expose.catalog import BY_NAME
from exporter.expose.catalog_performance import FAMILIES, MAX, METRIC_UNITS, MIN, RATIO, REALISED
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "alerts"
RULES = ALERTS / "ml-monitoring.rules.yml"
RULE_TESTS = sorted((ALERTS / "tests").glob("*.yml"))
# One case per alert, from a cold start: see test_each_alert_stays_silent_from_a_cold_start_*.
COLD_START = ALERTS / "tests" / "cold_start.yml"
AM_EXAMPLE = ALERTS / "alertmanager.example.yml"
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/ml-monitoring-exporter/ml-monitoring-exporter/blob/main/"
SECTIONS = ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation")
METRIC = re.compile(r"(?<![\w:])(mlmon_\w+)(?![\w:(])")
RECORDED = re.compile(r"(?<![\w:])([a-z_]+:\w+:\w+)")
GROUPING = re.compile(r"\b(by|on)\s*\(([^)]*)\)")
UP = re.compile(r"(?<![\w:])up(?![\w:(])")
ABSENT = re.compile(r"_(?:x(\d+))?")
FROM_ZERO = re.compile(r"0(?:\+\d+(?:\.\d+)?)?(?:x\d+)?")
DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# Series the exporter exports only while an evaluation could decide (min_samples, min_labeled)
# or while the window holds a record: they vanish between the bursts of a bursty model.
# Alerts read them through last_over_time(...[LOOKBACK]), so a gap does not restart `for:`.
LOOKBACK = "10m"
VANISHING = {
    *(
        f"mlmon_{kind}_drift_{part}"
        for kind in ("feature", "prediction", "target", "multivariate")
        for part in ("score", "detected")
    ),
    "mlmon_dataset_drift_share_ratio",
    "mlmon_dataset_drift_detected",
    "mlmon_model_performance_ratio",
    "mlmon_model_regression_error",
    "mlmon_model_loss",
    "mlmon_model_performance_estimated_ratio",
    # The bounds do not vanish between bursts, but a restart or a failed scrape marks them
    # stale and they return only with the next evaluation: read plainly, they restarted the
    # performance alerts' 30 minutes at every restart.
    "mlmon_model_performance_min_ratio",
    "mlmon_model_performance_max_ratio",
    "mlmon_model_regression_error_min",
    "mlmon_model_regression_error_max",
    "mlmon_model_loss_min",
    "mlmon_model_loss_max",
    "mlmon_segment_drift_share_ratio",
    "mlmon_segment_drift_detected",
    "mlmon_segment_performance_ratio",
    "mlmon_segment_regression_error",
    "mlmon_segment_loss",
    "mlmon_segment_performance_out_of_bounds",
    "mlmon_version_comparison_p_value",
    "mlmon_version_worse",
    "mlmon_feature_missing_ratio",
    # Not vanishing between bursts, but read as the window share it is compared with is, so a
    # gap cannot switch MLMonFeatureMissingValues to its fallback for a moment.
    "mlmon_feature_reference_missing_ratio",
    "mlmon_feature_out_of_range_ratio",
    "mlmon_feature_unseen_category_ratio",
    "mlmon_feature_expected_unseen_category_ratio",  # as the reference missing ratio
    "mlmon_label_coverage_ratio",
}


def rules() -> list[dict[str, Any]]:
    """Every rule of every group."""
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    """The alerting rules."""
    return [r for r in rules() if "alert" in r]


def metrics_read(rule: dict[str, Any]) -> set[str]:
    """Series the rule reads: in its expression, through recording rules, and in annotations."""
    recorded = {r["record"]: r["expr"] for r in rules() if "record" in r}

    def walk(expr: str) -> set[str]:
        names = set(METRIC.findall(expr)) | set(UP.findall(expr))
        for name in RECORDED.findall(expr):
            names |= walk(recorded[name])
        return names

    notes = " ".join(rule.get("annotations", {}).values())
    return walk(rule["expr"]) | set(METRIC.findall(notes))


def seconds(duration: str) -> float:
    """A promtool duration (1m, 1h30m) in seconds."""
    parts = DURATION.findall(duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * SECONDS[u] for n, u in parts)


def absent_then_first(values: str) -> tuple[int, str]:
    """How many samples a promtool series leaves out before its first value, and that value."""
    absent = 0
    for token in values.split():
        m = ABSENT.fullmatch(token)
        if m is None:
            return absent, token
        absent += int(m.group(1) or 1)
    return absent, ""


def is_counter(series: str) -> bool:
    """A counter of the catalog, or a _bucket/_count/_sum series of one of its histograms."""
    spec = BY_NAME.get(series)
    if spec is not None:
        return spec.kind == "counter"
    base = BY_NAME.get(re.sub(r"_(bucket|count|sum)$", "", series))
    return base is not None and base.kind == "histogram"


def cold_start_cases() -> dict[str, dict[str, Any]]:
    """The cases of alerts/tests/cold_start.yml by the one alert each checks."""
    doc = yaml.safe_load(COLD_START.read_text())
    cases: dict[str, dict[str, Any]] = {}
    for case in doc["tests"]:
        names = {check["alertname"] for check in case.get("alert_rule_test", [])}
        assert len(names) == 1, f"{case['name']}: a cold-start case checks one alert, not {names}"
        (name,) = names
        assert name not in cases, f"two cold-start cases of {name}"
        cases[name] = {"interval": "1m", **case}  # promtool's default series interval
    return cases


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a tool and keep its output for the assertion message; the limit only stops a hang:
    the 11 promtool test files take 48 s of one core on a quiet machine, and passed 120 s on
    one shared with other suites (load average 6)."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def test_promtool_accepts_the_rules_file() -> None:
    result = run([require_tool("promtool"), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_promtool_unit_tests_of_the_rules_pass() -> None:
    assert RULE_TESTS, "alerts/tests holds no promtool test files"
    result = run([require_tool("promtool"), "test", "rules", *map(str, RULE_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case_that_fires_and_one_that_stays_silent() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - fires == set(), "alerts without a firing test case"
    assert names - silent == set(), "alerts without a silent test case"
    assert (fires | silent) - names == set(), "test cases of alerts that do not exist"


def test_every_alert_has_exactly_one_cold_start_case() -> None:
    assert set(cold_start_cases()) == {a["alert"] for a in alerts()}


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_each_alert_stays_silent_from_a_cold_start_until_its_event_then_fires(
    rule: dict[str, Any],
) -> None:
    """Its series are absent before the exporter starts, counters appear at 0 as the exporter
    creates them; once they exist the alert is silent, and the event later makes it fire (an
    increase() over a counter that appears with its first event would never fire)."""
    name = rule["alert"]
    case = cold_start_cases().get(name)
    assert case is not None, f"alerts/tests/cold_start.yml has no case of {name}"
    step = seconds(case["interval"])
    start = 0.0
    fed: set[str] = set()
    for series in case["input_series"]:
        metric = str(series["series"]).split("{")[0].strip()
        fed.add(metric)
        absent, first = absent_then_first(str(series["values"]))
        assert absent >= 1, f"{name}: {series['series']} must begin absent (`_x5`)"
        if is_counter(metric):
            assert FROM_ZERO.fullmatch(first), (
                f"{name}: counter {series['series']} must appear at 0, not {first!r}"
            )
        start = max(start, absent * step)
    assert fed & metrics_read(rule), f"{name}: the case feeds none of the series it reads"
    checks = case["alert_rule_test"]
    fires = [seconds(c["eval_time"]) for c in checks if c.get("exp_alerts")]
    silent = [seconds(c["eval_time"]) for c in checks if not c.get("exp_alerts")]
    assert fires, f"{name} never fires in its cold-start case"
    assert any(start <= s < min(fires) for s in silent), (
        f"{name}: no silent check between the exporter's start ({start:.0f}s) and the firing one"
    )


@pytest.mark.parametrize(
    "rule", [a for a in alerts() if METRIC.findall(a["expr"])], ids=lambda r: r["alert"]
)
def test_alerts_bridge_the_gaps_of_series_that_vanish_between_evaluations(
    rule: dict[str, Any],
) -> None:
    """A pending alert restarts its `for:` when its expression returns nothing: a bursty model,
    flagged by every evaluation that had data, never fired. Each vanishing series is read as the
    newest sample within LOOKBACK, which must stay below `for:` so that one flagged evaluation
    followed by silence cannot fire on its own."""
    expr = rule["expr"]
    read = set(METRIC.findall(expr)) & VANISHING
    bridged = set(re.findall(rf"last_over_time\((mlmon_\w+)\[{LOOKBACK}\]\)", expr))
    plain = {n for n in read if re.search(rf"(?<!last_over_time\(){n}(?![\w\[])", expr)}
    assert plain == set(), f"{rule['alert']} reads {plain} without last_over_time"
    assert bridged <= VANISHING, f"{rule['alert']}: {bridged - VANISHING} never vanish"
    if read:
        assert seconds(LOOKBACK) < seconds(rule["for"]), rule["alert"]


def test_every_metric_a_rule_reads_is_in_the_exporters_catalog() -> None:
    histograms = {n for n, s in BY_NAME.items() if s.kind == "histogram"}
    recorded = {r["record"] for r in rules() if "record" in r}
    assert len({n for r in rules() for n in METRIC.findall(r["expr"])}) > 20
    for rule in rules():
        for name in METRIC.findall(rule["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert name in BY_NAME or base in histograms, f"{name} in {rule}"
        for name in RECORDED.findall(rule["expr"]):
            assert name in recorded, f"recording rule {name} is used but not defined"


def test_every_aggregation_and_match_keeps_the_namespace_label() -> None:
    for rule in rules():
        for keyword, labels in GROUPING.findall(rule["expr"]):
            assert "namespace" in [lbl.strip() for lbl in labels.split(",")], (
                f"{keyword} ({labels}) in {rule.get('alert') or rule.get('record')}"
            )


def test_recording_rules_are_named_level_metric_operations() -> None:
    for rule in rules():
        if "record" in rule:
            assert re.fullmatch(r"[a-z_]+:mlmon_[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule


def test_every_alert_has_a_severity_annotations_and_a_runbook_with_its_sections() -> None:
    for alert in alerts():
        name = alert["alert"]
        assert re.fullmatch(r"MLMon[A-Z][A-Za-z]+", name)
        assert alert["labels"]["severity"] in ("critical", "warning", "info"), name
        notes = alert["annotations"]
        assert notes["summary"], name
        assert re.search(r"\{\{ \$labels\.(model|instance) \}\}", notes["description"]), name
        assert "$value" in notes["description"], f"{name}: the description names no value"
        assert notes["runbook_url"] == f"{RUNBOOK_BASE}docs/runbooks/{name}.md"
        text = (RUNBOOKS / f"{name}.md").read_text()
        assert text.startswith(f"# {name}\n"), name
        for section in SECTIONS:
            assert section in text, f"{name}.md has no {section}"
        severity = re.search(r"^Severity: \*\*(\w+)\*\*\.", text, re.M)
        assert severity and severity.group(1) == alert["labels"]["severity"], name


def test_every_runbook_belongs_to_an_alert() -> None:
    names = {a["alert"] for a in alerts()}
    assert {p.stem for p in RUNBOOKS.glob("*.md")} - names == set()


def test_amtool_accepts_the_example_alertmanager_config() -> None:
    amtool = require_tool("amtool")
    result = run([amtool, "check-config", str(AM_EXAMPLE)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("severity", "receiver"), [("critical", "pager"), ("warning", "chat"), ("info", "silent")]
)
def test_the_example_routing_sends_each_severity_to_its_receiver(
    severity: str, receiver: str
) -> None:
    amtool = require_tool("amtool")
    result = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={AM_EXAMPLE}",
            "alertname=MLMonFeatureDrift",
            "model=fraud",
            f"severity={severity}",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def _inhibitions() -> set[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    """(source matchers, target matchers, equal labels) of the example's inhibit rules."""
    inhibit = yaml.safe_load(AM_EXAMPLE.read_text())["inhibit_rules"]
    return {
        (tuple(r["source_matchers"]), tuple(r["target_matchers"]), tuple(r["equal"]))
        for r in inhibit
    }


def test_dataset_drift_and_a_broken_exporter_inhibit_the_alerts_they_explain() -> None:
    pairs = _inhibitions()
    assert (
        ('alertname="MLMonDatasetDrift"',),
        ('alertname="MLMonFeatureDrift"',),
        ("namespace", "model"),
    ) in pairs
    assert (
        ('alertname=~"MLMonExporterDown|MLMonRedisUnreachable|MLMonReaderDown"',),
        ('model=~".+"',),
        ("namespace", "job", "instance"),
    ) in pairs


def test_alerts_of_the_whole_model_inhibit_the_same_alerts_of_its_segments() -> None:
    pairs = _inhibitions()
    assert (
        ('alertname="MLMonDatasetDrift"',),
        ('alertname="MLMonSegmentDrift"',),
        ("namespace", "model"),
    ) in pairs
    assert (
        ('alertname=~"MLMonPerformance(BelowMin|AboveMax)"',),
        ('alertname="MLMonSegmentPerformanceOutOfBounds"',),
        ("namespace", "model", "metric"),
    ) in pairs


def test_the_segment_alerts_read_every_unit_family_of_a_segment_and_keep_the_slice() -> None:
    expr = _alert("MLMonSegmentPerformanceOutOfBounds")["expr"]
    for unit in ("performance_ratio", "regression_error", "loss"):
        assert f"(last_over_time(mlmon_segment_{unit}[{LOOKBACK}]))" in expr, unit
    for name in ("MLMonSegmentDrift", "MLMonSegmentPerformanceOutOfBounds"):
        for group in _groupings(_alert(name)["expr"]):
            assert {"segment", "segment_value"} <= set(group), (name, group)
    for group in _groupings(_alert("MLMonChallengerWorse")["expr"]):
        assert {"version", "metric"} <= set(group), group


# Alerts over the fleet-wide recorded rates: they add up every replica's traffic, so they keep
# no instance, and a broken exporter makes them quiet (no rate), never loud.
FLEET_RATES = {
    "MLMonLatencySLOFastBurn",
    "MLMonLatencySLOSlowBurn",
    "MLMonAvailabilitySLOFastBurn",
    "MLMonAvailabilitySLOSlowBurn",
    "MLMonPredictionErrorRateHigh",
}


def _groupings(expr: str) -> list[list[str]]:
    return [[lbl.strip() for lbl in labels.split(",")] for _, labels in GROUPING.findall(expr)]


def test_model_alerts_keep_the_replica_so_one_shard_down_inhibits_only_its_models() -> None:
    """The inhibition matches on namespace, job and instance: a model alert without them
    would never be inhibited, and one that kept only the namespace would be by any replica."""
    recorded = {r["record"]: r["expr"] for r in rules() if "record" in r}
    for alert in alerts():
        name, expr = alert["alert"], alert["expr"]
        groups = _groupings(expr)
        for rule in RECORDED.findall(expr):
            groups += _groupings(recorded[rule])
        with_model = [g for g in groups if "model" in g]
        if not with_model or name in FLEET_RATES:
            continue
        for group in with_model:
            assert {"job", "instance"} <= set(group), f"{name}: ({', '.join(group)})"
    for name in FLEET_RATES:
        assert all("instance" not in g for g in _groupings(_alert(name)["expr"])), name


def _alert(name: str) -> dict[str, Any]:
    (rule,) = [a for a in alerts() if a["alert"] == name]
    return rule


@pytest.mark.parametrize(
    ("names", "severity"),
    [
        (
            (
                "MLMonDatasetDrift",
                "MLMonFeatureDrift",
                "MLMonPredictionDrift",
                "MLMonTargetDrift",
                "MLMonMultivariateDrift",
            ),
            "warning",
        ),
        (
            (
                "MLMonPerformanceBelowMin",
                "MLMonPerformanceAboveMax",
                "MLMonLatencySLOFastBurn",
                "MLMonAvailabilitySLOFastBurn",
                "MLMonExporterDown",
            ),
            "critical",
        ),
    ],
    ids=["drift-tickets", "pages"],
)
def test_severity_follows_who_must_act_now(names: tuple[str, ...], severity: str) -> None:
    for name in names:
        assert _alert(name)["labels"]["severity"] == severity, name


def test_every_summary_and_description_is_a_sentence() -> None:
    for alert in alerts():
        for key in ("summary", "description"):
            text = alert["annotations"][key]
            assert re.match(r"[A-Z0-9{]", text) and text.endswith("."), f"{alert['alert']} {key}"
        assert alert["annotations"]["summary"][0].isupper(), alert["alert"]


def test_the_performance_alerts_read_every_unit_family_and_its_own_bounds() -> None:
    """Each value family is compared with the bound families of the same unit, never another."""
    for name, variant in (("MLMonPerformanceBelowMin", MIN), ("MLMonPerformanceAboveMax", MAX)):
        expr = _alert(name)["expr"]
        for unit in FAMILIES.values():
            realised = rf"\(last_over_time\({unit.name(REALISED)}\[{LOOKBACK}\]\)\)"
            pair = rf"{realised}\s*[<>] on \([^)]*\)\s*max by \([^)]*\) "
            bound = rf"\(last_over_time\({unit.name(variant)}\[{LOOKBACK}\]\)\)"
            assert re.search(pair + bound, expr), (name, unit.unit)


def test_the_degradation_rule_knows_which_ratios_are_better_low() -> None:
    (rule,) = [r for r in rules() if r.get("record", "").endswith(":degradation_ratio")]
    (low,) = set(re.findall(r'metric=~"([^"]+)"', rule["expr"]))
    better_low = {m for m in LOWER_IS_BETTER if METRIC_UNITS[m] == RATIO}
    assert set(low.split("|")) == better_low
    assert {m for m in LOWER_IS_BETTER if METRIC_UNITS[m] != RATIO} == {"mae", "rmse", "log_loss"}


def test_no_rule_sums_a_models_series_over_its_replica_pods() -> None:
    """Replicas each export every model's counts: the recording rules summed them over pods, so
    namespace_model:mlmon_predictions:rate5m read 2/s for 1 prediction/s with two replicas."""
    from tests.test_dashboards import replica_sums

    assert [
        f"{r.get('record') or r['alert']}: {s}" for r in rules() for s in replica_sums(r["expr"])
    ] == []
