"""Values and columns a reference's format can hold that records cannot: read as the record's
value would be, or refused naming the column, never kept as a Python repr or chosen silently."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson
import pytest
import yaml

from exporter.config import ModelConfig, load_config_text
from exporter.reference.load import ReferenceError, parse_reference
from tests.test_reference_csv_text import _reader

FEATURES = [{"name": "amount", "type": "numeric"}, {"name": "country", "type": "categorical"}]
COUNTRIES = ["DE", "FR", None, "DE"]


def _model(task: str = "regression", features: Any = None) -> ModelConfig:
    doc = {"models": [{"name": "m", "task": task, "features": features or FEATURES}]}
    return load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]


def _parquet(columns: dict[str, Any]) -> bytes:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet

    out = io.BytesIO()
    pyarrow.parquet.write_table(pa.table(columns), out)
    return out.getvalue()


def _amounts() -> Any:
    pa = pytest.importorskip("pyarrow")
    return pa.array([1.0, 2.0, 3.0, 4.0])


def test_a_parquet_binary_column_reads_as_its_utf8_text() -> None:
    """Older Hive, Impala and Spark write strings without the UTF8 annotation: the classes
    were "b'DE'" and every live "DE" unseen (ratio 1.0, drift detected)."""
    pa = pytest.importorskip("pyarrow")
    binary = [None if c is None else c.encode() for c in COUNTRIES]
    for kind in (pa.binary(), pa.large_binary()):
        content = _parquet({"amount": _amounts(), "country": pa.array(binary, kind)})
        got = parse_reference(_model(), content, "parquet", "ref.parquet")
        assert got.categorical == {"country": ("DE", "FR", None, "DE")}


def test_parquet_binary_that_is_not_utf8_is_refused_naming_column_and_row() -> None:
    pa = pytest.importorskip("pyarrow")
    country = pa.array([b"DE", b"\xff\xfe", None, b"DE"], pa.binary())
    content = _parquet({"amount": _amounts(), "country": country})
    with pytest.raises(ReferenceError) as error:
        parse_reference(_model(), content, "parquet", "ref.parquet")
    message = "ref.parquet: row 2: column 'country': b'\\xff\\xfe' is not UTF-8 text"
    assert str(error.value) == message


def _nested(kind: str) -> tuple[bytes, str]:
    """A categorical column of structs or lists, in Parquet or JSON Lines."""
    if kind.startswith("JSON Lines"):
        value = {"v": "DE"} if "object" in kind else ["DE"]
        rows = [{"amount": 1.0, "country": "FR"}, {"amount": 2.0, "country": value}]
        return b"".join(orjson.dumps(r) + b"\n" for r in rows), "jsonl"
    pa = pytest.importorskip("pyarrow")
    value = {"v": "DE"} if "struct" in kind else ["DE"]
    column = pa.array([None, value, value, None])
    return _parquet({"amount": _amounts(), "country": column}), "parquet"


@pytest.mark.parametrize(
    "kind", ["Parquet struct", "Parquet list", "JSON Lines object", "JSON Lines array"]
)
def test_a_categorical_column_of_structs_or_lists_is_refused_naming_column_and_row(
    kind: str,
) -> None:
    """They were the categories "{'v': 'DE'}" and "['DE']", which no record can send (the
    wire refuses them as bad_feature_value): every healthy window was flagged."""
    content, fmt = _nested(kind)
    with pytest.raises(ReferenceError) as error:
        parse_reference(_model(), content, fmt, f"ref.{fmt}")
    shown = "{'v': 'DE'}" if "struct" in kind or "object" in kind else "['DE']"
    assert str(error.value) == (
        f"ref.{fmt}: row 2: column 'country': {shown} is not a text, number or boolean"
    )


def test_a_classifiers_label_column_of_lists_is_refused_naming_it() -> None:
    rows = [{"amount": 1, "country": "DE", "label": "a"}, {"amount": 2, "label": ["b"]}]
    content = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    with pytest.raises(ReferenceError, match=r"row 2: column 'label': \['b'\] is not a text"):
        parse_reference(_model("multiclass_classification"), content, "jsonl", "ref.jsonl")


def test_a_parquet_file_naming_a_column_twice_is_refused_as_a_csv_header_is() -> None:
    """The last of the two was read: a join's leftover (cents) replaced the euros, and a
    healthy window's KS score read 1.0."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet

    euros = [100.0, 101.5, 99.0, 98.5]
    table = pa.Table.from_arrays(
        [pa.array(euros), pa.array([e * 100 for e in euros]), pa.array(COUNTRIES)],
        names=["amount", "amount", "country"],
    )
    out = io.BytesIO()
    pyarrow.parquet.write_table(table, out)
    with pytest.raises(ReferenceError) as error:
        parse_reference(_model(), out.getvalue(), "parquet", "ref.parquet")
    assert str(error.value) == "ref.parquet: the schema names column 'amount' twice"


@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_a_csvs_booleans_in_a_numeric_feature_read_as_1_and_0_as_in_json_lines(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas writes a bool column as True/False: the CSV was refused ("'false' is not a
    number", a value not in the file) while the same data as JSON Lines or Parquet loaded."""
    _reader(arrow, monkeypatch)
    features = [{"name": "amount", "type": "numeric"}, {"name": "weekend", "type": "numeric"}]
    model = _model(features=features)
    flags = ["False", "True", "TRUE", "false", "", "fAlSe"]
    csv = "amount,weekend\n" + "".join(f"{i},{f}\n" for i, f in enumerate(flags))
    values = [False, True, True, False, None, False]
    jsonl = b"\n".join(orjson.dumps({"amount": i, "weekend": v}) for i, v in enumerate(values))
    got = parse_reference(model, csv.encode(), "csv", "ref.csv").numeric["weekend"]
    want = parse_reference(model, jsonl, "jsonl", "ref.jsonl").numeric["weekend"]
    np.testing.assert_array_equal(got, [0.0, 1.0, 1.0, 0.0, np.nan, 0.0])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_a_csv_cell_that_is_no_number_is_quoted_as_written(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reader(arrow, monkeypatch)
    csv = b"amount,country\n1.0,DE\nTrue,FR\nYes,DE\n"
    with pytest.raises(ReferenceError) as error:
        parse_reference(_model(), csv, "csv", "ref.csv")
    assert str(error.value) == "ref.csv: row 3: column 'amount': 'Yes' is not a number"


def test_a_json_lines_feature_absent_from_the_first_thousand_rows_is_read() -> None:
    """Spark's JSON writer drops null fields: a feature logged from row 1,501 on was
    "lacks feature column 'discount'", though 1,500 rows hold it."""
    features = [
        {"name": "amount", "type": "numeric"},
        {"name": "discount", "type": "numeric"},
        {"name": "text", "type": "embedding", "dimension": 2},
    ]
    rows = [
        {"amount": i % 50, **({"discount": i % 7, "text": [1.0, i]} if i >= 1500 else {})}
        for i in range(3000)
    ]
    content = b"\n".join(orjson.dumps(r) for r in rows)
    got = parse_reference(_model(features=features), content, "jsonl", "ref.jsonl")
    assert got.rows == 3000
    assert int(np.isnan(got.numeric["discount"]).sum()) == 1500
    assert got.numeric["discount"][1500:].tolist() == [i % 7 for i in range(1500, 3000)]
    assert int(np.isnan(got.embeddings["text"][:, 0]).sum()) == 1500
