"""Drift methods come from exporter.stats.METHODS and must fit what they compare."""

from __future__ import annotations

import pytest

from exporter.config import (
    DriftSpec,
)
from exporter.stats import methods_for
from exporter.stats.kinds import FeatureType
from tests.config_cases import (
    load_doc,
    load_error,
    load_model,
    model_error,
    model_keys,
)

_NUMERIC_METHODS = ", ".join(methods_for(FeatureType.NUMERIC))
_CATEGORICAL_METHODS = ", ".join(methods_for(FeatureType.CATEGORICAL))


def test_a_feature_without_method_takes_the_drift_default_for_its_type() -> None:
    defaults = {
        "drift": {
            "numeric": {"method": "ks", "threshold": 0.01},
            "categorical": {"method": "chisquare"},
        }
    }
    features = [{"name": "amount", "type": "numeric"}, {"name": "c", "type": "categorical"}]
    model = load_doc({"defaults": defaults, "models": [model_keys(features=features)]}).models[0]
    assert model.features[0].drift == DriftSpec(method="ks", threshold=0.01)
    assert model.features[1].drift == DriftSpec(method="chisquare", threshold=None)


def test_a_feature_threshold_alone_keeps_the_default_method() -> None:
    defaults = {"drift": {"numeric": {"method": "psi", "threshold": 0.1}}}
    features = [{"name": "amount", "type": "numeric", "threshold": 0.25}]
    model = load_doc({"defaults": defaults, "models": [model_keys(features=features)]}).models[0]
    assert model.features[0].drift == DriftSpec(method="psi", threshold=0.25)


def test_a_feature_with_another_method_does_not_inherit_the_default_threshold() -> None:
    defaults = {"drift": {"numeric": {"method": "psi", "threshold": 0.1}}}
    features = [{"name": "amount", "type": "numeric", "method": "ks"}]
    model = load_doc({"defaults": defaults, "models": [model_keys(features=features)]}).models[0]
    assert model.features[0].drift == DriftSpec(method="ks", threshold=None)


def test_a_model_drift_section_overrides_defaults_per_feature_type() -> None:
    defaults = {"drift": {"numeric": {"method": "ks"}, "categorical": {"method": "chisquare"}}}
    features = [{"name": "amount", "type": "numeric"}, {"name": "c", "type": "categorical"}]
    model = model_keys(features=features, drift={"numeric": {"method": "psi", "threshold": 0.2}})
    numeric, categorical = load_doc({"defaults": defaults, "models": [model]}).models[0].features
    assert (numeric.drift, categorical.drift) == (
        DriftSpec(method="psi", threshold=0.2),
        DriftSpec(method="chisquare"),
    )


def test_a_method_on_the_wrong_feature_type_names_the_feature() -> None:
    features = [
        {"name": "amount", "type": "numeric", "method": "ks"},
        {"name": "country", "type": "categorical", "method": "ks"},
    ]
    assert model_error(features=features) == (
        "models[0].features[1].method: 'ks' does not apply to categorical feature 'country' "
        f"(use one of: {_CATEGORICAL_METHODS})"
    )


def test_a_default_drift_method_on_the_wrong_type_names_the_defaults_path() -> None:
    message = load_error(
        {"defaults": {"drift": {"numeric": {"method": "chisquare"}}}, "models": [model_keys()]}
    )
    assert message == (
        "defaults.drift.numeric.method: 'chisquare' does not apply to numeric features "
        f"(use one of: {_NUMERIC_METHODS})"
    )


@pytest.mark.parametrize(
    ("task", "method", "message"),
    [
        (
            "regression",
            "chisquare",
            "models[0].prediction_drift.method: 'chisquare' does not apply to numeric predictions "
            f"of regression model 'fraud' (use one of: {_NUMERIC_METHODS})",
        ),
        (
            "multiclass_classification",
            "ks",
            "models[0].prediction_drift.method: 'ks' does not apply to categorical predictions "
            f"of multiclass_classification model 'fraud' (use one of: {_CATEGORICAL_METHODS})",
        ),
    ],
)
def test_prediction_drift_method_must_fit_the_task(task: str, method: str, message: str) -> None:
    assert model_error(task=task, prediction_drift={"method": method}) == message


def test_a_binary_model_with_a_positive_class_may_use_a_numeric_method_on_its_score() -> None:
    model = load_model(positive_class="1", prediction_drift={"method": "ks", "threshold": 0.01})
    assert model.prediction_drift == DriftSpec(method="ks", threshold=0.01)


def test_a_default_prediction_drift_method_that_misfits_a_model_names_defaults_and_model() -> None:
    doc = {"defaults": {"prediction_drift": {"method": "ks"}}, "models": [model_keys()]}
    assert load_error(doc).startswith(
        "defaults.prediction_drift.method: 'ks' does not apply to categorical predictions "
        "of binary_classification model 'fraud'"
    )


def test_a_model_prediction_threshold_alone_keeps_the_default_method() -> None:
    doc = {
        "defaults": {"prediction_drift": {"method": "psi", "threshold": 0.1}},
        "models": [model_keys(prediction_drift={"threshold": 0.3})],
    }
    assert load_doc(doc).models[0].prediction_drift == DriftSpec(method="psi", threshold=0.3)


def test_a_learned_threshold_for_anderson_is_refused_where_it_is_set() -> None:
    """Learned on reference chunks, anderson's cut flagged 13-14 % of healthy windows."""
    features = [{"name": "amount", "type": "numeric", "method": "anderson", "threshold": "learned"}]
    assert model_error(features=features).startswith(
        "models[0].features[0].threshold: learned does not apply to 'anderson'"
    )
    defaults = {"drift": {"numeric": {"method": "anderson", "threshold": "learned"}}}
    assert load_error({"defaults": defaults, "models": [model_keys()]}).startswith(
        "defaults.drift.numeric.threshold: learned does not apply to 'anderson'"
    )
    by_type = {"drift": {"numeric": {"method": "anderson"}}}
    own = [{"name": "amount", "type": "numeric", "threshold": 0.01}]
    model = load_doc({"defaults": by_type, "models": [model_keys(features=own)]}).models[0]
    assert model.features[0].drift == DriftSpec(method="anderson", threshold=0.01)
