"""A version name, and a category no JSON number spells, are the text the config file wrote:
unquoted `champion: 2026.10` was the number 2026.1 and `allowed: [07, 010]` the numbers 7
and 8 (YAML 1.1 octal), which no record sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, load_config
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from tests.helpers import Clock

T0 = 1_700_000_000.0
CONFIG = """
models:
  - name: years
    task: binary_classification
    reference: {file: years.csv}
    window: {duration: 1d, max_samples: 20000}
    versions: {champion: CHAMPION, min_labeled: 20}
    features:
      - {name: amount, type: numeric}
      - {name: shop, type: categorical, allowed: ALLOWED}
"""


def _load(tmp: Path, champion: str = "2026.10", allowed: str = "[a, b]") -> ModelConfig:
    text = CONFIG.replace("CHAMPION", champion).replace("ALLOWED", allowed)
    (tmp / "config.yaml").write_text(text)
    rng = np.random.default_rng(3)
    rows = [f"{rng.uniform(0, 10):.3f},a,{i % 2},{i % 2}" for i in range(500)]
    (tmp / "years.csv").write_text("amount,shop,prediction,label\n" + "\n".join(rows) + "\n")
    return load_config(str(tmp / "config.yaml")).models[0]


@pytest.mark.parametrize(
    ("written", "name"),
    [("2026.10", "2026.10"), ("2.10", "2.10"), ("010", "010"), ("1.0", "1.0"), ("7", "7")],
)
def test_an_unquoted_version_name_is_the_text_written(
    tmp_path: Path, written: str, name: str
) -> None:
    assert _load(tmp_path, champion=written).versions.champion == name


def test_the_configured_year_month_champion_is_the_champion_beside_a_busier_version(
    tmp_path: Path,
) -> None:
    """Read as 2026.1, the configured 2026.10 matched no record and the busier 2026.9 became
    the champion: mlmon_version_champion_info said version="2026.9"."""
    model = _load(tmp_path)
    pipeline = ModelPipeline(
        model, LiveMetrics(CollectorRegistry(), [model]), store := SnapshotStore(), Clock(T0)
    )
    entries, labels = [], []
    for i in range(300):
        entry_id = f"{int(T0 * 1000) - 1000 + i}-0".encode()
        record = {
            "id": f"p{i}",
            "version": "2026.10" if i % 3 == 0 else "2026.9",
            "features": {"amount": float(i % 10), "shop": "a"},
            "prediction": i % 2,
        }
        entries.append((entry_id, {b"data": orjson.dumps(record)}))
        labels.append((entry_id, {b"data": orjson.dumps({"id": f"p{i}", "label": i % 2})}))
    pipeline.ingest_predictions(entries)
    pipeline.ingest_labels(labels)
    assert pipeline.evaluate(None)
    versions = store.models["years"].versions
    assert versions is not None and versions.champion == "2026.10"


def test_categories_written_with_leading_zeros_are_the_text_written(tmp_path: Path) -> None:
    """07, 010 and 011 were 7, 8 and 9 (YAML 1.1 octal) beside the texts 08 and 09."""
    model = _load(tmp_path, allowed="[07, 08, 09, 010, 011, 0x1F]")
    assert model.features[1].allowed == ("07", "08", "09", "010", "011", "0x1F")


def test_categories_written_as_json_writes_numbers_are_still_the_numbers_classes(
    tmp_path: Path,
) -> None:
    model = _load(tmp_path, allowed="[0.0, 1.0, 2, 0.5, 1e3]")
    assert model.features[1].allowed == ("0", "1", "2", "0.5", "1e3")
