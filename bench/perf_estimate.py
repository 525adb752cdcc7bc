"""CBPE-style estimation: our estimator against realised values and NannyML's CBPE.

Run as `python -m bench.perf_estimate`. NannyML is a bench-only dependency; without it the
comparison columns say so and only our estimator is measured (baseline: the realised metrics).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from bench.common import RUNS
from exporter.config import ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.estimate import estimate, fit_calibration
from exporter.evaluate.performance import performance
from exporter.reference.load import ReferenceData
from exporter.stats.kinds import Task
from exporter.window.classnames import Compact

ROWS = 5000
CLASSES = ("a", "b", "c")


@dataclass(frozen=True)
class Case:
    """One synthetic model: reference and shifted analysis data."""

    name: str
    model: ModelConfig
    reference: dict[str, np.ndarray]
    analysis: dict[str, np.ndarray]


def _model(task: Task, positive: str | None) -> ModelConfig:
    return ModelConfig(
        name="m",
        task=task,
        features=(),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
        positive_class=positive,
    )


def _binary(rng: np.random.Generator, shift: float, sharpen: float) -> dict[str, np.ndarray]:
    x = rng.normal(shift, 1.0 + shift / 4, ROWS)
    truth = 1 / (1 + np.exp(-(1.5 * x - 0.5)))
    score = 1 / (1 + np.exp(-sharpen * (1.5 * x - 0.5)))
    return {
        "y": (rng.uniform(size=ROWS) < truth).astype(int),
        "pred": (score >= 0.5).astype(int),
        "p": score,
    }


def _multiclass(rng: np.random.Generator, shift: float) -> dict[str, np.ndarray]:
    x = rng.normal(shift, 1.0, (ROWS, 2))
    logits = np.stack([x[:, 0], x[:, 1], -x[:, 0] - x[:, 1]], axis=1) * 1.2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(ROWS, 1)) > probs.cumsum(axis=1)).sum(axis=1)
    out = {"y": np.asarray(CLASSES)[y], "pred": np.asarray(CLASSES)[probs.argmax(axis=1)]}
    out.update({f"p_{c}": probs[:, i] for i, c in enumerate(CLASSES)})
    return out


def cases(seed: int = 42) -> list[Case]:
    """Calibrated and overconfident binary models and a multiclass one, under covariate shift."""
    rng = np.random.default_rng(seed)
    binary, multi = _model(Task.BINARY, "1"), _model(Task.MULTICLASS, None)
    return [
        Case("binary, calibrated, shift 0.8", binary, _binary(rng, 0, 1), _binary(rng, 0.8, 1)),
        Case("binary, calibrated, shift 1.5", binary, _binary(rng, 0, 1), _binary(rng, 1.5, 1)),
        Case("binary, overconfident, shift 0.8", binary, _binary(rng, 0, 3), _binary(rng, 0.8, 3)),
        Case(
            "multiclass, calibrated, shift 0.7", multi, _multiclass(rng, 0), _multiclass(rng, 0.7)
        ),
    ]


def _scores(case: Case, data: dict[str, np.ndarray]) -> list[Compact]:
    if case.model.task is Task.BINARY:
        return [float(v) for v in data["p"]]
    return [(CLASSES, tuple(float(data[f"p_{c}"][i]) for c in CLASSES)) for i in range(ROWS)]


def ours(case: Case) -> dict[str, float]:
    """Fit calibration on the reference, then estimate on the analysis window."""
    ref = case.reference
    reference = ReferenceData(
        ROWS,
        {},
        {},
        tuple(str(v) for v in ref["pred"]),
        ref.get("p"),
        tuple(str(v) for v in ref["y"]),
        "bench",
    )
    calibration = fit_calibration(case.model, reference)
    data = case.analysis
    return dict(
        estimate(case.model, calibration, [str(v) for v in data["pred"]], _scores(case, data))
    )


def realised(case: Case) -> dict[str, float]:
    """The metrics the labels give."""
    data = case.analysis
    return dict(
        performance(
            case.model,
            [str(v) for v in data["pred"]],
            [str(v) for v in data["y"]],
            _scores(case, data),
        )
    )


def nannyml_cbpe(case: Case) -> dict[str, float] | None:
    """NannyML's CBPE on the same data, one chunk; None when nannyml is not installed."""
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # no analytics upload
    try:
        import nannyml as nml  # type: ignore[import-not-found]
        import pandas as pd  # type: ignore[import-untyped]
    except ImportError:
        return None
    binary = case.model.task is Task.BINARY
    proba: Any = "p" if binary else {c: f"p_{c}" for c in CLASSES}
    estimator = nml.CBPE(
        y_pred_proba=proba,
        y_pred="pred",
        y_true="y",
        chunk_size=ROWS,
        problem_type="classification_binary" if binary else "classification_multiclass",
        metrics=["accuracy", "f1"],
    )
    estimator.fit(pd.DataFrame(case.reference))
    frame = estimator.estimate(pd.DataFrame(case.analysis).drop(columns="y")).to_df()
    analysis = frame[frame[("chunk", "period")] == "analysis"]
    return {m: float(analysis[(m, "value")].iloc[0]) for m in ("accuracy", "f1")}


def median_seconds(fn: Callable[[], object]) -> float:
    """Median wall time over RUNS runs."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    """Print accuracy of the estimates and the time each estimator takes."""
    print(
        "| Case | Metric | Realised | Ours | Ours error | NannyML CBPE | NannyML error |\n"
        "|---|---|---|---|---|---|---|"
    )
    timings = []
    for case in cases():
        real, est, nanny = realised(case), ours(case), nannyml_cbpe(case)
        f1 = "f1" if case.model.task is Task.BINARY else "f1_macro"
        for shown, key in (("accuracy", "accuracy"), ("f1", f1)):
            other = (
                ("not installed", "-")
                if nanny is None
                else (f"{nanny[shown]:.4f}", f"{abs(nanny[shown] - real[key]):.4f}")
            )
            print(
                f"| {case.name} | {shown} | {real[key]:.4f} | {est[key]:.4f} | "
                f"{abs(est[key] - real[key]):.4f} | {other[0]} | {other[1]} |"
            )
        baseline = (
            median_seconds(partial(nannyml_cbpe, case))
            if nanny is not None
            else median_seconds(partial(realised, case))
        )
        timings.append(
            (
                case.name,
                median_seconds(partial(ours, case)),
                baseline,
                "NannyML CBPE fit+estimate" if nanny is not None else "realised metrics",
            )
        )
    print(
        f"\n| Case | Ours fit+estimate (s, median of {RUNS}) | Baseline | Baseline (s) | "
        "Ours / baseline |\n|---|---|---|---|---|"
    )
    for name, mine, base, what in timings:
        print(f"| {name} | {mine:.4f} | {what} | {base:.4f} | {mine / base:.3f} |")


if __name__ == "__main__":
    main()
