"""Log lines for the drift decisions an evaluation flipped: when drift began and ended."""

from __future__ import annotations

import logging

from exporter.evaluate.snapshot import ModelSnapshot

log = logging.getLogger("exporter.pipeline")  # the logger the pipeline's lines have always used


def drift_states(snapshot: ModelSnapshot | None) -> dict[str, bool]:
    """What an on-call engineer sees flip: dataset, prediction and each feature's drift."""
    if snapshot is None:
        return {}
    out = {f"feature {f.name}": f.drift.drifted for f in snapshot.features if f.drift is not None}
    if snapshot.dataset_drift is not None:
        out["dataset"] = snapshot.dataset_drift
    if snapshot.prediction_drift is not None:
        out["prediction"] = snapshot.prediction_drift.drifted
    for name, value in (
        ("multivariate", snapshot.multivariate_drift),
        ("target", snapshot.target_drift),
    ):
        if value is not None:
            out[name] = value.drifted
    return out


def log_drift_changes(old: ModelSnapshot | None, new: ModelSnapshot) -> None:
    """One line per drift decision that changed, so the log tells when drift began and ended."""
    before = drift_states(old)
    for what, drifted in drift_states(new).items():
        if before.get(what, False) != drifted:
            log.info(
                "model %s: %s drift %s",
                new.model,
                what,
                "detected" if drifted else "cleared",
                extra={"model": new.model, "drift": what, "drifted": drifted},
            )
