"""A feature key's `__other__` is compared with the reference rows of the values it pools."""

from __future__ import annotations

import numpy as np

from exporter.config import ModelConfig, load_config_text
from exporter.evaluate.fit import fit_reference
from exporter.evaluate.segments import evaluate_segments
from exporter.evaluate.snapshot import SegmentSnapshot
from exporter.reference.data import ReferenceData
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView

# GB, IT and LU pool into __other__ (max_values: 3); amount's level differs by country.
COUNTRIES = ("DE", "FR", "US", "GB", "IT", "LU")
SHARES = (0.30, 0.25, 0.20, 0.15, 0.08, 0.02)
LEVEL = {"DE": 0.2, "FR": 0.0, "US": 0.3, "GB": -0.1, "IT": -0.2, "LU": 0.5}
TRIALS = 12


def _model(extra: str = "") -> ModelConfig:
    text = (
        """
models:
  - name: m
    task: regression
    reference: {file: ref.csv}
    min_samples: 100
    features:
      - {name: amount, type: numeric, method: ks}
      - {name: age, type: numeric, method: ks}
      - {name: country, type: categorical, method: chi2}
    segments: [{feature: country, max_values: 3, min_samples: 100}]"""
        + extra
        + "\n"
    )
    return load_config_text(text).models[0]


def _draw(
    rng: np.random.Generator, n: int, countries: tuple[str, ...] = COUNTRIES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Country codes, amounts and ages of n healthy records, from the given countries only."""
    shares = np.array([SHARES[COUNTRIES.index(c)] for c in countries])
    country = rng.choice([COUNTRIES.index(c) for c in countries], n, p=shares / shares.sum())
    level = np.array([LEVEL[c] for c in COUNTRIES])[country]
    return country.astype(np.int32), np.exp(rng.normal(4 + level, 0.6)), rng.normal(40, 12, n)


def _reference(rng: np.random.Generator, n: int) -> ReferenceData:
    country, amount, age = _draw(rng, n)
    return ReferenceData(
        rows=n,
        numeric={"amount": amount, "age": age},
        categorical={"country": tuple(COUNTRIES[c] for c in country)},
        prediction=None,
        score=None,
        label=None,
        digest="null",
    )


def _window(rng: np.random.Generator, n: int, countries: tuple[str, ...] = COUNTRIES) -> WindowView:
    country, amount, age = _draw(rng, n, countries)
    return WindowView(
        ts=np.zeros(n),
        numeric={"amount": amount, "age": age},
        categorical={"country": country},
        prediction=np.full(n, np.nan),
        score=np.full(n, np.nan),
        categories={"country": COUNTRIES},
        classes=(),
    )


def _other(segments: tuple[SegmentSnapshot, ...]) -> SegmentSnapshot:
    return next(s for s in segments if s.value == "__other__")


def test_healthy_other_is_compared_with_the_rows_it_pools_and_is_not_flagged_drifted() -> None:
    """Against the whole reference, the healthy pool of GB, IT and LU read as drifted in 12 of
    12 windows (amount KS D 0.17), while DE, FR and US stayed quiet on their own rows."""
    rng = np.random.default_rng(3)
    model = _model()
    fitted = fit_reference(model, _reference(rng, 5000))
    others = [
        _other(evaluate_segments(model, fitted, _window(rng, 3000), JoinedPairs((), ())))
        for _ in range(TRIALS)
    ]
    flagged = sum(bool(other.drift_detected) for other in others)
    assert flagged <= 1, f"__other__ flagged drifted in {flagged} of {TRIALS} healthy windows"
    assert all(other.evaluated and other.reference_own for other in others)


def test_other_shifted_in_its_own_values_is_still_flagged_drifted() -> None:
    """The pool's own rows must not hide a shift of the values it holds."""
    rng = np.random.default_rng(4)
    model = _model()
    fitted = fit_reference(model, _reference(rng, 5000))
    view = _window(rng, 3000)
    pooled = np.isin(view.categorical["country"], [3, 4, 5])
    view.numeric["amount"][pooled] *= np.exp(0.6)  # 1 sd of log-amount
    other = _other(evaluate_segments(model, fitted, view, JoinedPairs((), ())))
    assert other.reference_own and other.drift_detected is True


def test_other_pooling_other_values_than_the_reference_left_out_gets_no_drift_decision() -> None:
    """Without US the window names GB among its top three, so `__other__` pools IT and LU
    only; the reference rows fitted for it (GB, IT and LU) are not theirs."""
    rng = np.random.default_rng(5)
    model = _model()
    fitted = fit_reference(model, _reference(rng, 5000))
    window = _window(rng, 3000, ("DE", "FR", "GB", "IT", "LU"))
    other = _other(evaluate_segments(model, fitted, window, JoinedPairs((), ())))
    assert other.samples >= 100 and other.evaluated and not other.reference_own
    assert other.drift_detected is None and other.drift_share is None
    assert [f.name for f in other.features] == ["amount", "age"]
    assert all(f.drift is None and f.missing_ratio == 0.0 for f in other.features)


def test_other_pooling_other_values_still_checks_its_performance_bounds() -> None:
    """An outside review: every IT and LU prediction far off, with no drift decision for the
    pool, left `__other__` unevaluated, so its broken bound could never alert."""
    rng = np.random.default_rng(6)
    model = _model("\n    performance: {mae: {max: 1.0}}")
    fitted = fit_reference(model, _reference(rng, 5000))
    window = _window(rng, 3000, ("DE", "FR", "GB", "IT", "LU"))
    codes = rng.choice([0, 1, 3, 4, 5], 600).astype(np.int32)
    actual = rng.normal(0, 1, 600)
    predicted = actual + np.where(np.isin(codes, [4, 5]), 10.0, 0.1)
    pairs = JoinedPairs(tuple(predicted), tuple(actual), slices=codes[:, None])
    segments = evaluate_segments(model, fitted, window, pairs)
    assert dict(_other(segments).out_of_bounds) == {"mae": True}
    assert dict(next(s for s in segments if s.value == "DE").out_of_bounds) == {"mae": False}
