"""The share of unseen categories a healthy window holds, which MLMonFeatureUnseenCategories
compares the window's with: a long-tail feature brings categories its reference lacks."""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml

from exporter.config import ModelConfig, load_config_text
from exporter.evaluate.fit import FittedColumn, fit_reference
from exporter.reference.load import parse_reference

VALUES = 500  # a merchant-like feature: Zipf over 500 values


def _model(**feature: Any) -> ModelConfig:
    doc = {
        "models": [
            {
                "name": "shop",
                "task": "regression",
                "features": [{"name": "merchant", "type": "categorical", **feature}],
            }
        ]
    }
    return load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]


def _zipf(rng: np.random.Generator, n: int) -> list[str]:
    weights = 1.0 / np.arange(1, VALUES + 1) ** 1.1
    return [f"m{i}" for i in rng.choice(VALUES, n, p=weights / weights.sum())]


def _fitted(model: ModelConfig, values: list[str]) -> FittedColumn:
    csv = "merchant,prediction\n" + "".join(f"{v},1.0\n" for v in values)
    return fit_reference(model, parse_reference(model, csv.encode(), "csv", "ref.csv")).features[0]


def test_the_expected_share_of_a_long_tail_feature_matches_what_healthy_windows_hold() -> None:
    rng = np.random.default_rng(5)
    column = _fitted(_model(), _zipf(rng, 3000))
    assert column.unseen is not None and 0.01 < column.unseen < 0.1
    held = [np.mean([v not in (column.allowed or ()) for v in _zipf(rng, 1000)]) for _ in range(30)]
    # Healthy windows sit around the estimate, and none passes the rule's 5 points above it.
    assert abs(float(np.mean(held)) - column.unseen) < 0.01
    assert max(held) < column.unseen + 0.05
    assert max(held) > 0.05, "the fixed 5 % this replaces would not have fired: no test"


def test_a_feature_whose_reference_holds_every_category_often_expects_none() -> None:
    rng = np.random.default_rng(6)
    column = _fitted(_model(), [str(v) for v in rng.choice(["DE", "FR", "US"], 2000)])
    assert column.unseen == 0.0


def test_with_an_allowed_list_the_expected_share_is_the_reference_rows_outside_it() -> None:
    values = ["DE"] * 90 + ["FR"] * 6 + ["XX"] * 4
    assert _fitted(_model(allowed=["DE", "FR"]), values).unseen == 0.04
    assert _fitted(_model(allowed=["DE", "FR", "XX"]), values).unseen == 0.0
