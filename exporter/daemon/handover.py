"""What a model's new pipeline takes on from the one a reload replaced.

A reload that changes a model builds it a new pipeline, whose window the reader rebuilds from
the streams' tails, while the counters go on. What the old pipeline held that no stream
replays, or that the counters' bounded series depend on, is handed on here: the labels still
waiting for their predictions (else never counted unmatched), the class names (else each
reload named up to max_new_categories more classes in `mlmon_labeled_predictions_total`)
and the versions holding series slots (else never given back, and every new version
folded into `__other__`).
"""

from __future__ import annotations

from collections.abc import Iterable

from exporter.daemon.pipeline import ModelPipeline
from exporter.expose.live import LiveMetrics
from exporter.window.labels import JoinResult


def hand_over(
    old: Iterable[ModelPipeline], new: Iterable[ModelPipeline], live: LiveMetrics
) -> None:
    """Hand each replaced pipeline's state to its model's new one; after the old runtime
    stopped and before the new one reads, so neither pipeline changes meanwhile."""
    before = {p.model.name: p for p in old}
    for pipeline in new:
        model = pipeline.model.name
        replaced = before.get(model)
        if replaced is None or replaced is pipeline:  # a new model, or one the reload kept
            continue
        unmatched, dropped = pipeline.join.take_over(replaced.join)
        if unmatched:
            live.observe_labels(model, 0, JoinResult(unmatched))
        for name in dropped:  # series of classes no longer named: they would never grow again
            live.labeled.remove_by_labels({"model": model, "actual": name})
            live.labeled.remove_by_labels({"model": model, "predicted": name})
        pipeline.window.slicer.versions.adopt(live.versions_of(model))
