"""An empty text means in a reference what it means on the wire: a category in JSON Lines and
Parquet (and so in Redis, which holds the file's bytes), refused for a numeric feature; only
a CSV's empty cell, CSV's one way to write a missing value, is missing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import FeatureSnapshot, SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import (
    ReferenceError,
    decode_from_redis,
    encode_for_redis,
    parse_reference,
)
from exporter.reference.rows import parse_rows, rows_from_bytes
from tests.helpers import Clock

T0 = 1_700_000_000.0
FEATURES = [{"name": "c", "type": "categorical"}, {"name": "x", "type": "numeric"}]
JSONL = b'{"c": "", "x": 1}\n{"c": null, "x": 2}\n{"x": 3}\n{"c": "a", "x": null}\n'


def _model(base_dir: str = "/etc/mlmon") -> ModelConfig:
    doc = {
        "models": [
            {
                "name": "e",
                "task": "regression",
                "reference": {"file": "ref.jsonl"},
                "features": [{**FEATURES[0], "method": "jensenshannon"}, FEATURES[1]],
            }
        ]
    }
    return load_config_text(yaml.safe_dump(doc), {}, base_dir=base_dir).models[0]


def test_an_empty_text_in_json_lines_is_a_category_and_null_or_absent_is_missing() -> None:
    model = _model()
    fast = parse_reference(model, JSONL, "jsonl", "ref.jsonl")
    rows = parse_rows(model, rows_from_bytes(JSONL, "jsonl", "ref.jsonl"), "ref.jsonl", "")
    assert fast.categorical == rows.categorical == {"c": ("", None, None, "a")}


def test_an_empty_text_in_parquet_is_a_category_whichever_reader_reads_it() -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet

    out = io.BytesIO()
    table = {"c": pa.array(["", None, "a"]), "x": pa.array([1.0, 2.0, None])}
    pyarrow.parquet.write_table(pa.table(table), out)
    assert parse_reference(_model(), out.getvalue(), "parquet", "r.pq").categorical == {
        "c": ("", None, "a")
    }
    with_text = pa.table({**table, "x": pa.array(["1", "x", None])})  # the row reader's turn
    out = io.BytesIO()
    pyarrow.parquet.write_table(with_text, out)
    with pytest.raises(ReferenceError, match=r"r\.pq: row 2: column 'x': 'x' is not a number"):
        parse_reference(_model(), out.getvalue(), "parquet", "r.pq")


def test_an_empty_csv_cell_is_still_a_missing_value() -> None:
    data = parse_reference(_model(), b"c,x\n,1\na,\n", "csv", "ref.csv")
    assert data.categorical == {"c": (None, "a")}
    assert np.isnan(data.numeric["x"][1])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_empty_text_for_a_numeric_feature_is_refused_naming_file_row_and_column(
    fmt: str,
) -> None:
    """As the wire rejects such a record (bad_feature_value), rather than reading it missing."""
    content = b'{"c": "a", "x": 1}\n{"c": "b", "x": ""}\n'
    if fmt == "parquet":
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet

        out = io.BytesIO()
        pyarrow.parquet.write_table(pa.table({"c": ["a", "b"], "x": ["1", ""]}), out)
        content = out.getvalue()
    with pytest.raises(ReferenceError) as error:
        parse_reference(_model(), content, fmt, f"ref.{fmt}")
    assert str(error.value) == (
        f"ref.{fmt}: row 2: column 'x': '' is not a number (a missing value is null or an "
        "absent key)"
    )


def test_an_empty_text_category_survives_the_round_trip_through_redis() -> None:
    fields = {k.encode(): v for k, v in encode_for_redis(JSONL, "jsonl").items()}
    data = decode_from_redis(_model(), "mlmon:{e}:reference", fields)
    assert data.categorical == {"c": ("", None, None, "a")}


def _rows(rng: np.random.Generator, n: int) -> list[dict[str, object]]:
    c = rng.choice(["a", "b", "c", ""], n, p=[0.3, 0.3, 0.2, 0.2])
    return [{"c": str(c[i]), "x": float(v)} for i, v in enumerate(rng.normal(size=n))]


def _evaluated_c(tmp: Path, window: list[dict[str, object]]) -> FeatureSnapshot:
    model = _model(str(tmp))
    store = SnapshotStore()
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store, Clock(T0))
    entries = [
        (f"{int(T0 * 1000) - 2000 + i}-0".encode(), {b"data": orjson.dumps(record)})
        for i, record in enumerate(
            {"id": f"i{i}", "features": r, "prediction": 0.0} for i, r in enumerate(window)
        )
    ]
    pipeline.ingest_predictions(entries)
    assert pipeline.evaluate(None)
    return next(f for f in store.models["e"].features if f.name == "c")


def test_a_reference_dumped_from_wire_records_with_empty_texts_shows_no_drift_on_them(
    tmp_path: Path,
) -> None:
    """The empty texts were missing in the reference and an unseen category in the window:
    unseen 0.23 and Jensen-Shannon drift detected on the same mix."""
    rng = np.random.default_rng(0)
    reference = b"".join(orjson.dumps({**r, "prediction": 0.0}) + b"\n" for r in _rows(rng, 2000))
    (tmp_path / "ref.jsonl").write_bytes(reference)
    c = _evaluated_c(tmp_path, _rows(rng, 1000))
    assert c.missing_ratio == 0.0
    assert c.unseen_category_ratio == 0.0
    assert c.drift is not None and not c.drift.drifted
