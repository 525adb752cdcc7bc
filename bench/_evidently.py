"""Evidently (bench-only) runs: None when it is not installed, so benches print a note instead."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

AVAILABLE = (
    importlib.util.find_spec("evidently") is not None
    and importlib.util.find_spec("pandas") is not None
)
NOTE = (
    "Evidently is not installed, so its columns are skipped: "
    "pip install evidently 'pandas<3' (bench-only)."
)


def version() -> str:
    """Evidently's version, or 'absent'."""
    if not AVAILABLE:
        return "absent"
    import evidently

    return str(evidently.__version__)


def data_drift(
    reference: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    categorical: tuple[str, ...] = (),
) -> dict[str, tuple[str, float, bool]]:
    """DataDriftPreset with its defaults: column -> (method, value, drifted)."""
    import pandas as pd  # type: ignore[import-untyped]
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numeric = [c for c in reference if c not in categorical]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=list(categorical))
    ref = Dataset.from_pandas(pd.DataFrame(reference), data_definition=definition)
    cur = Dataset.from_pandas(pd.DataFrame(current), data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    out: dict[str, tuple[str, float, bool]] = {}
    for metric in snapshot.dict()["metrics"]:
        config: dict[str, Any] = metric.get("config") or {}
        if config.get("type", "").endswith("ValueDrift"):
            method, value, cut = config["method"], float(metric["value"]), config["threshold"]
            drifted = value < cut if "p_value" in method else value >= cut
            out[config["column"]] = (method, value, drifted)
    return out
