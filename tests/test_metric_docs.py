"""The metric catalog and docs/metrics.md must list the same metrics, types and labels."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.config.performance import PERFORMANCE_METRICS
from exporter.evaluate.snapshot import ModelSnapshot, SnapshotStore
from exporter.expose.catalog import CATALOG, MetricSpec
from exporter.expose.catalog_performance import (
    CLASS_UNIT,
    ESTIMATED,
    FAMILIES,
    METRIC_UNITS,
    RATIO,
    class_family,
    family,
)
from exporter.expose.catalog_segments import bound_family, slice_family
from exporter.expose.collector import SnapshotCollector

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(mlmon_[a-z_]+)` \| (\w+) \| ([^|]*) \| [^|]+ \|$")


def _documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            labels = tuple(re.findall(r"`(\w+)`", match.group(3)))
            rows[match.group(1)] = (match.group(2), labels)
    return rows


def test_every_catalog_metric_is_documented_with_its_type_and_labels() -> None:
    declared = {s.name: (s.kind, s.labels) for s in CATALOG}
    assert _documented() == declared


def test_every_metric_name_is_declared_once() -> None:
    names = [s.name for s in CATALOG]
    assert len(names) == len(set(names))


# Families with a `metric` label that hold a decision or a p-value about it, not its value.
DECISIONS = frozenset(
    {
        "mlmon_segment_performance_out_of_bounds",
        "mlmon_version_comparison_p_value",
        "mlmon_version_worse",
    }
)


def _performance_families() -> dict[str, MetricSpec]:
    """Every family that serves performance values: the ones with a `metric` label."""
    return {s.name: s for s in CATALOG if "metric" in s.labels and s.name not in DECISIONS}


def test_every_performance_metric_the_evaluator_computes_has_a_unit() -> None:
    assert set(METRIC_UNITS) == set(PERFORMANCE_METRICS)
    assert set(METRIC_UNITS.values()) == set(FAMILIES)


def test_no_family_mixes_units() -> None:
    """Each (family, metric) pair the split can produce, grouped by family: one unit each."""
    units: dict[str, set[str]] = {}
    for metric, unit in METRIC_UNITS.items():
        for variant in FAMILIES[unit].variants:
            units.setdefault(family(metric, variant), set()).add(unit)
        if unit == CLASS_UNIT:
            units.setdefault(class_family(metric), set()).add(unit)
        for kind in ("segment", "version"):
            units.setdefault(slice_family(kind, unit), set()).add(unit)
        for side in ("min", "max"):
            units.setdefault(bound_family(unit, side), set()).add(unit)
        if unit == RATIO:  # estimates are of ratios only
            units.setdefault("mlmon_segment_performance_estimated_ratio", set()).add(unit)
    assert set(units) == set(_performance_families()), "declared families the split never fills"
    mixed = {name: u for name, u in units.items() if len(u) != 1}
    assert not mixed, f"families mixing units: {mixed}"
    for name, (unit,) in units.items():
        declared = _performance_families()[name].unit
        assert declared == ("ratio" if unit == RATIO else ""), (name, unit, declared)
        assert name.endswith("_ratio") == (unit == RATIO), name


def test_the_collector_puts_each_metric_in_its_units_family() -> None:
    """A snapshot with every metric, rendered: each family's `metric` values share one unit."""
    every = tuple((m, 0.5) for m in METRIC_UNITS)
    ratios = tuple((m, 0.5) for m, u in METRIC_UNITS.items() if u == RATIO)
    per_class = (("a", "precision", 0.5), ("a", "recall", 0.5), ("a", "f1", 0.5))
    snap = ModelSnapshot(
        "m", 1.0, 0.1, 10, 10, (), None, None, None, every, every, per_class, ratios, ratios
    )
    store = SnapshotStore()
    store.publish(snap)
    seen: dict[str, set[str]] = {}
    for family_ in SnapshotCollector(store, [], lambda: True).derived():
        for sample in family_.samples:
            if "metric" in sample.labels:
                seen.setdefault(family_.name, set()).add(METRIC_UNITS[sample.labels["metric"]])
    assert all(len(units) == 1 for units in seen.values()), seen
    assert set(seen) >= {family("accuracy"), family("mae"), family("log_loss")}
    assert set(seen) >= {family("accuracy", ESTIMATED), class_family("f1")}


def test_performance_metrics_keep_a_bounded_metric_label() -> None:
    for name, s in _performance_families().items():
        slices = {"class", "segment", "segment_value", "version"}
        assert set(s.labels) <= {"model", "metric"} | slices, name
