"""The statistics keys of the config: correction, learned thresholds, importance, multivariate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import yaml

from exporter.config import (
    ConfigError,
    DriftSpec,
    ModelConfig,
    MultivariateConfig,
    load_config_text,
)
from exporter.evaluate.fit import fit_reference
from exporter.reference.load import ReferenceError, parse_reference


def _model(**overrides: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "name": "m",
        "task": "regression",
        "features": [{"name": "a", "type": "numeric"}],
    }
    model.update(overrides)
    return model


def _load(defaults: dict[str, Any] | None = None, **overrides: Any) -> ModelConfig:
    doc: dict[str, Any] = {"models": [_model(**overrides)]}
    if defaults is not None:
        doc["defaults"] = defaults
    return load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]


def _error(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as info:
        _load(**overrides)
    return str(info.value)


def test_defaults_are_auto_fdr_bh_k3_and_pca_on() -> None:
    model = _load()
    assert (model.drift_correction, model.learned_k) == ("fdr_bh", 3.0)
    assert model.multivariate == MultivariateConfig(enabled=True, variance=0.65)
    assert model.features[0].drift == DriftSpec() and model.features[0].importance == 1.0


def test_drift_options_layer_over_defaults_next_to_the_per_type_methods() -> None:
    model = _load(
        {"drift": {"correction": "bonferroni", "numeric": {"method": "ks"}}},
        drift={"learned_k": 2.5},
        multivariate={"variance": 0.9},
    )
    assert (model.drift_correction, model.learned_k) == ("bonferroni", 2.5)
    assert model.features[0].drift.method == "ks"
    assert model.multivariate == MultivariateConfig(enabled=True, variance=0.9)


def test_threshold_learned_and_importance_are_read_per_feature() -> None:
    model = _load(
        features=[
            {
                "name": "a",
                "type": "numeric",
                "method": "psi",
                "threshold": "learned",
                "importance": 4,
            }
        ]
    )
    assert model.features[0].drift == DriftSpec(method="psi", threshold=None, learned=True)
    assert model.features[0].importance == 4.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"drift": {"correction": "holm"}},
            "models[0].drift.correction: must be one of: fdr_bh, bonferroni, none",
        ),
        ({"drift": {"learned_k": 0}}, "models[0].drift.learned_k: must be positive"),
        ({"multivariate": {"variance": 1}}, "models[0].multivariate.variance: must be between 0"),
        ({"multivariate": {"enabled": "yes"}}, "models[0].multivariate.enabled: must be true or"),
        (
            {"features": [{"name": "a", "type": "numeric", "threshold": "learnt"}]},
            "models[0].features[0].threshold: must be",
        ),
        (
            {"features": [{"name": "a", "type": "numeric", "importance": -1}]},
            "models[0].features[0].importance: must be positive",
        ),
    ],
)
def test_bad_statistics_settings_name_their_key_path(
    overrides: dict[str, Any], message: str
) -> None:
    assert _error(**overrides).startswith(message)


def test_a_z_test_on_a_feature_with_three_categories_is_an_error_naming_the_feature() -> None:
    model = _load(features=[{"name": "c", "type": "categorical", "method": "z"}])
    content = b"c\n" + b"\n".join([b"x", b"y", b"z"] * 10)
    data = parse_reference(model, content, "csv", "ref.csv")
    with pytest.raises(ReferenceError, match="model 'm' feature 'c': z: applies to binary"):
        fit_reference(model, data)


def test_a_learned_threshold_is_used_once_the_reference_holds_five_windows() -> None:
    model = _load(
        features=[{"name": "a", "type": "numeric", "method": "psi", "threshold": "learned"}]
    )
    rng = np.random.default_rng(2)
    content = "a\n" + "\n".join(repr(float(v)) for v in rng.normal(0, 1, 6000))
    fitted = fit_reference(model, parse_reference(model, content.encode(), "csv", "r.csv"))
    learned = fitted.features[0].learned
    assert learned is not None
    assert learned.for_size(1000) is not None and learned.for_size(2000) is None
