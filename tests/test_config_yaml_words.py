"""Classes and categories in the config file are the values records carry, keyed as the wire
keys them: an unquoted NO is Norway's code and yes/no two classes (YAML 1.1 read them as
booleans, the classes "true" and "false"), and `1.0` is the class of 1, 1.0 and "1"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import ConfigError, ModelConfig, load_config
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import ModelSnapshot, SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.yamlfile import parse_yaml
from tests.helpers import Clock

T0 = 1_700_000_000.0
COUNTRIES = ("DE", "NO", "SE")
CONFIG = """
models:
  - name: words
    task: binary_classification
    positive_class: yes
    classes: [yes, no]
    reference: {file: words.csv}
    window: {duration: 1d, max_samples: 20000}
    min_samples: 100
    multivariate: {enabled: off}
    change: {enabled: yes}
    features:
      - {name: country, type: categorical, allowed: [DE, NO, SE]}
      - {name: amount, type: numeric}
  - name: floats
    task: binary_classification
    positive_class: 1.0
    classes: [0.0, 1.0]
    reference: {file: floats.csv}
    window: {duration: 1d, max_samples: 20000}
    min_samples: 100
    features:
      - {name: amount, type: numeric}
"""


def _load(tmp: Path, text: str = CONFIG) -> tuple[ModelConfig, ...]:
    (tmp / "config.yaml").write_text(text)
    return load_config(str(tmp / "config.yaml")).models


def test_unquoted_yes_no_and_country_codes_in_the_config_are_the_texts_written(
    tmp_path: Path,
) -> None:
    words, _ = _load(tmp_path)
    assert words.features[0].allowed == ("DE", "NO", "SE")
    assert words.classes == ("yes", "no")
    assert words.positive_class == "yes"


def test_classes_written_as_floats_are_the_classes_the_wire_gives_their_numbers(
    tmp_path: Path,
) -> None:
    _, floats = _load(tmp_path)
    assert floats.classes == ("0", "1")
    assert floats.positive_class == "1"


def test_a_number_written_with_an_exponent_and_no_point_is_a_number_as_helm_writes_it(
    tmp_path: Path,
) -> None:
    """Helm's toYaml writes 0.00001 as 1e-05, which YAML 1.1 reads as text: the chart's
    config then failed `threshold: must be a number, got string '1e-05'` in the pod."""
    text = CONFIG.replace(
        "- {name: amount, type: numeric}\n  - name: floats",
        "- {name: amount, type: numeric, method: ks, threshold: 1e-05}\n  - name: floats",
    )
    words, _ = _load(tmp_path, text)
    assert words.features[1].drift.threshold == 1e-05
    parsed = parse_yaml("[1E5, -2e-3, 1e5x, 1.5e3, .5e1, 7]", "t", True)
    assert parsed == ["1E5", "-2e-3", "1e5x", "1.5e3", ".5e1", 7]  # each as written, and:
    numbers = [getattr(v, "number", None) for v in parsed]
    assert numbers == [1e5, -2e-3, None, 1500.0, 5.0, None]


def test_an_exponent_number_is_the_text_written_where_a_key_takes_text(tmp_path: Path) -> None:
    """Read as a number everywhere, `name: 1e5` and a stream key 1e3 were refused ("must be
    a string, got number 100000.0") and a class 1E5 became 100000, matching no record."""
    text = CONFIG.replace("name: floats", "name: 1e5").replace(
        "classes: [0.0, 1.0]", "classes: [0.0, 1.0, 1E5]"
    )
    text = text.replace("reference: {file: floats.csv}", "reference: {redis_key: 1e3}")
    _, floats = _load(tmp_path, text)
    assert floats.name == "1e5" and type(floats.name) is str
    assert floats.classes == ("0", "1", "1E5")
    assert floats.reference.redis_key == "1e3"


def test_true_and_false_are_still_booleans_whose_classes_are_true_and_false(
    tmp_path: Path,
) -> None:
    text = CONFIG.replace("[yes, no]", "[True, FALSE]").replace("positive_class: yes", "")
    assert _load(tmp_path, text)[0].classes == ("true", "false")


def test_an_unquoted_yes_or_off_still_switches_a_setting(tmp_path: Path) -> None:
    words, _ = _load(tmp_path)
    assert words.multivariate.enabled is False
    assert words.change.enabled is True


def test_a_quoted_yes_for_a_setting_is_refused_with_its_key_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"models\[0\]\.multivariate\.enabled: must be true"):
        _load(tmp_path, CONFIG.replace("enabled: off", 'enabled: "yes"'))


def test_the_web_config_file_still_reads_yes_as_a_boolean_as_the_go_toolkit_does() -> None:
    assert parse_yaml("http2: yes\n", "web.yaml") == {"http2": True}


def _write_references(tmp: Path, rng: np.random.Generator) -> None:
    lines, numbers = ["country,amount,prediction,label,score"], ["amount,prediction,label,score"]
    for _ in range(2000):
        score = float(rng.random())
        predicted, actual = score > 0.5, rng.random() < score
        yes_no = ["yes" if v else "no" for v in (predicted, actual)]
        amount = f"{rng.uniform(0, 10):.3f}"
        lines.append(f"{rng.choice(COUNTRIES)},{amount},{yes_no[0]},{yes_no[1]},{score:.3f}")
        numbers.append(f"{amount},{int(predicted)},{int(actual)},{score:.3f}")
    (tmp / "words.csv").write_text("\n".join(lines) + "\n")
    (tmp / "floats.csv").write_text("\n".join(numbers) + "\n")


def _evaluated(model: ModelConfig, records: list[dict[str, object]]) -> ModelSnapshot:
    """The records as predictions, each labelled with its own prediction, then evaluated."""
    store = SnapshotStore()
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store, Clock(T0))
    entries, labels = [], []
    for i, record in enumerate(records):
        entry_id = f"{int(T0 * 1000) - 1000 + i}-0".encode()
        label = {"id": f"p{i}", "label": record.pop("label", record["prediction"])}
        entries.append((entry_id, {b"data": orjson.dumps({"id": f"p{i}", **record})}))
        labels.append((entry_id, {b"data": orjson.dumps(label)}))
    pipeline.ingest_predictions(entries)
    pipeline.ingest_labels(labels)
    assert pipeline.evaluate(None)
    return store.models[model.name]


def test_norway_is_no_unseen_country_and_yes_no_classes_keep_their_precision_and_recall(
    tmp_path: Path,
) -> None:
    """NO counted as unseen (its share of traffic) and every labelled pair folded into
    __other__, so precision and recall were never computed."""
    rng = np.random.default_rng(7)
    _write_references(tmp_path, rng)
    words, _ = _load(tmp_path)
    records: list[dict[str, object]] = []
    for _ in range(600):
        score = float(rng.random())
        features = {"country": str(rng.choice(COUNTRIES)), "amount": float(rng.uniform(0, 10))}
        records.append(
            {"features": features, "prediction": "yes" if score > 0.5 else "no", "scores": score}
        )
    snapshot = _evaluated(words, records)
    country = next(f for f in snapshot.features if f.name == "country")
    assert country.unseen_category_ratio == 0.0
    performance = dict(snapshot.performance)
    assert performance["accuracy"] == performance["precision"] == performance["recall"] == 1.0
    assert {c for c, _, _ in snapshot.class_performance} == {"yes", "no"}


def test_classes_configured_as_floats_match_wire_labels_written_0_1_1_0_or_text(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(8)
    _write_references(tmp_path, rng)
    _, floats = _load(tmp_path)
    spellings: list[object] = [1, 1.0, "1"]
    records: list[dict[str, object]] = [
        {
            "features": {"amount": float(rng.uniform(0, 10))},
            "prediction": i % 2,
            "scores": 0.9 if i % 2 else 0.1,
            "label": spellings[i % 3] if i % 2 else [0, 0.0, "0"][i % 3],
        }
        for i in range(600)
    ]
    snapshot = _evaluated(floats, records)
    performance = dict(snapshot.performance)
    assert performance["accuracy"] == performance["precision"] == performance["recall"] == 1.0
    assert {c for c, _, _ in snapshot.class_performance} == {"0", "1"}
