"""The families of segments and versions, rendered from snapshots like the model families."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from exporter.evaluate.snapshot import ModelSnapshot, SegmentSnapshot, VersionsSnapshot
from exporter.expose.catalog import spec
from exporter.expose.catalog_performance import METRIC_UNITS
from exporter.expose.catalog_segments import SEGMENTS, VERSIONS, bound_family, slice_family

Families = dict[str, GaugeMetricFamily]


def _families(names: Iterable[str]) -> Families:
    out = {}
    for name in names:
        s = spec(name)
        out[name] = GaugeMetricFamily(s.name, s.help, labels=s.labels, unit=s.unit)
    return out


def segment_families(snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
    """Every segment value's traffic and, once evaluated, its drift, quality and performance."""
    families = _families(s.name for s in SEGMENTS)
    for snapshot in snapshots:
        for segment in snapshot.segments:
            _segment(families, snapshot.model, segment)
    yield from families.values()


def _segment(families: Families, model: str, s: SegmentSnapshot) -> None:
    labels = [model, s.segment, s.value]
    families["mlmon_segment_samples"].add_metric(labels, s.samples)
    families["mlmon_segment_evaluated"].add_metric(labels, float(s.evaluated))
    families["mlmon_segment_reference_own"].add_metric(labels, float(s.reference_own))
    for feature in s.features:
        with_feature = [*labels, feature.name]
        if feature.missing_ratio is not None:
            families["mlmon_segment_feature_missing_ratio"].add_metric(
                with_feature, feature.missing_ratio
            )
        drift = feature.drift
        if drift is None:
            continue
        with_method = [*with_feature, drift.method]
        families["mlmon_segment_feature_drift_score"].add_metric(with_method, drift.score)
        families["mlmon_segment_feature_drift_detected"].add_metric(
            with_feature, float(drift.drifted)
        )
        if drift.p_value is not None:
            families["mlmon_segment_feature_drift_p_value"].add_metric(with_method, drift.p_value)
    if s.drift_share is not None:
        families["mlmon_segment_drift_share_ratio"].add_metric(labels, s.drift_share)
        families["mlmon_segment_drift_detected"].add_metric(labels, float(bool(s.drift_detected)))
    for metric, value in s.performance:
        family = slice_family("segment", METRIC_UNITS[metric])
        families[family].add_metric([*labels, metric], value)
    for metric, value in s.estimated:
        families["mlmon_segment_performance_estimated_ratio"].add_metric([*labels, metric], value)
    for metric, bad in s.out_of_bounds:
        families["mlmon_segment_performance_out_of_bounds"].add_metric(
            [*labels, metric], float(bad)
        )
    for metric, low, high in s.bounds:
        for side, bound in (("min", low), ("max", high)):
            if bound is not None:
                family = bound_family(METRIC_UNITS[metric], side)
                families[family].add_metric([*labels, metric], bound)


def version_families(snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
    """The champion, each version's labelled traffic and metrics, and each challenger's
    comparison; a comparison without enough labels exports no decision at all."""
    families = _families(s.name for s in VERSIONS)
    for snapshot in snapshots:
        if snapshot.versions is not None:
            _versions(families, snapshot.model, snapshot.versions)
    yield from families.values()


def _versions(families: Families, model: str, versions: VersionsSnapshot) -> None:
    families["mlmon_version_champion_info"].add_metric([model, versions.champion], 1.0)
    for v in versions.versions:
        labels = [model, v.version]
        families["mlmon_version_labeled_samples"].add_metric(labels, v.labeled)
        for metric, value in v.performance:
            family = slice_family("version", METRIC_UNITS[metric])
            families[family].add_metric([*labels, metric], value)
        if v.drift is not None:
            families["mlmon_version_prediction_drift_score"].add_metric(
                [*labels, v.drift.method], v.drift.score
            )
            families["mlmon_version_prediction_drift_detected"].add_metric(
                labels, float(v.drift.drifted)
            )
        for c in v.comparisons:
            families["mlmon_version_comparison_p_value"].add_metric([*labels, c.metric], c.p_value)
            families["mlmon_version_worse"].add_metric([*labels, c.metric], float(c.worse))
