"""A reference that would fit yet monitor nothing, or monitor wrongly, is refused by name."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from exporter.config import ModelConfig, load_config_text
from exporter.evaluate.fit import fit_reference
from exporter.reference.load import ReferenceError, parse_reference


def _model(**extra: Any) -> ModelConfig:
    doc = {
        "models": [
            {
                "name": "fraud",
                "task": "binary_classification",
                "features": [
                    {"name": "amount", "type": "numeric"},
                    {"name": "country", "type": "categorical"},
                ],
                **extra,
            }
        ]
    }
    return load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]


def _csv(rows: list[str]) -> bytes:
    return ("amount,country,prediction,score,label\n" + "\n".join(rows) + "\n").encode()


def _rows(classes: tuple[str, str] = ("0", "1"), amount: bool = True) -> list[str]:
    """40 rows: prediction and label both the class of i % 2, spelled as `classes` says."""
    return [
        f"{10 + i if amount else ''},{'DE' if i % 2 else 'FR'},{classes[i % 2]},"
        f"{0.2 + 0.6 * (i % 2)},{classes[i % 2]}"
        for i in range(40)
    ]


def _fit(model: ModelConfig, rows: list[str]) -> None:
    fit_reference(model, parse_reference(model, _csv(rows), "csv", "ref.csv"))


def test_a_feature_whose_reference_column_is_all_blank_is_refused_naming_it() -> None:
    with pytest.raises(ReferenceError, match=r"'fraud': the reference has no values of amount"):
        _fit(_model(), _rows(amount=False))
    _fit(_model(), _rows())  # the same reference with the column filled fits


def test_a_blank_feature_with_its_own_range_still_fits_for_its_quality_checks() -> None:
    features = [
        {"name": "amount", "type": "numeric", "range": [0, 100]},
        {"name": "country", "type": "categorical", "allowed": ["DE", "FR"]},
    ]
    rows = [",".join(["", "", *r.split(",")[2:]]) for r in _rows()]
    fitted = fit_reference(
        _model(features=features), parse_reference(_model(), _csv(rows), "csv", "ref.csv")
    )
    amount = fitted.features[0]
    assert (amount.method, amount.low, amount.high) == (None, 0.0, 100.0)


def test_a_positive_class_no_reference_label_names_is_refused_listing_the_classes() -> None:
    with pytest.raises(ReferenceError, match=r"positive_class 'yes' is not among .*'0', '1'"):
        _fit(_model(positive_class="yes"), _rows())
    _fit(_model(positive_class="1"), _rows())


def test_labels_written_as_booleans_refuse_the_positive_class_1() -> None:
    with pytest.raises(ReferenceError, match=r"positive_class '1' .*'false', 'true'"):
        _fit(_model(positive_class="1"), _rows(("false", "true")))
    _fit(_model(positive_class="true"), _rows(("false", "true")))


def test_a_blank_feature_with_its_own_range_leaves_multivariate_drift_saying_why_not() -> None:
    """The note went with the check that refused blank features; the PCA then fitted a
    column of NaN, warning "Mean of empty slice" and saying nothing on the model page."""
    features = [
        {"name": "amount", "type": "numeric", "range": [0, 100]},
        {"name": "age", "type": "numeric"},
        {"name": "hour", "type": "numeric"},
    ]
    model = _model(features=features, task="regression")
    csv = "amount,age,hour\n" + "".join(f",{20 + i % 40},{i % 24}\n" for i in range(60))
    fitted = fit_reference(model, parse_reference(model, csv.encode(), "csv", "ref.csv"))
    assert fitted.multivariate is None
    assert fitted.multivariate_note == "not applicable: the reference has no values of amount"
