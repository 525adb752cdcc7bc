"""Reference files in every format read the same: the fast column readers, pyarrow's and the
stdlib's, give what the row-by-row reader gives, refuse what it refuses with its messages, and
Parquet holds the same data as CSV."""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np
import pytest
import yaml

from exporter.config import ModelConfig, load_config_text
from exporter.reference import arrow as arrow_reader
from exporter.reference.load import ReferenceData, ReferenceError, parse_reference
from exporter.reference.rows import parse_rows, rows_from_bytes

FEATURES = [
    {"name": "a", "type": "numeric"},
    {"name": "b", "type": "numeric"},
    {"name": "c", "type": "categorical"},
]


def _model(task: str = "multiclass_classification", features: Any = None) -> ModelConfig:
    doc = {"models": [{"name": "m", "task": task, "features": features or FEATURES}]}
    return load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]


def _row_by_row(model: ModelConfig, content: bytes, fmt: str = "csv") -> ReferenceData:
    """The reader every fast path must agree with."""
    import hashlib

    rows = rows_from_bytes(content, fmt, "ref")
    return parse_rows(model, rows, "ref", hashlib.sha256(content).hexdigest())


def _without_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import pyarrow` fails, as where the parquet extra is not installed."""
    for name in ("pyarrow", "pyarrow.compute", "pyarrow.csv", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)


def _same(got: ReferenceData, want: ReferenceData) -> None:
    assert (got.rows, got.digest) == (want.rows, want.digest)
    assert got.numeric.keys() == want.numeric.keys()
    for name, values in want.numeric.items():
        np.testing.assert_array_equal(got.numeric[name], values)
    assert got.categorical == want.categorical
    assert (got.prediction, got.label) == (want.prediction, want.label)
    if want.score is None:
        assert got.score is None
    else:
        assert got.score is not None
        np.testing.assert_array_equal(got.score, want.score)


TRICKY = {
    "empty cells": b"a,b,c,label\n1,,x,1\n,2.5,,0\n3,4,y,\n",
    "quoted commas and newlines": b'a,b,c\n1,2,"x, y"\n3,4,"two\nlines"\n5,6,"say ""hi"""\n',
    "byte order mark": b"\xef\xbb\xbfa,b,c\n1,2,x\n3,4,y\n",
    "numbers as categories": b"a,b,c,prediction\n1,2,01,1.0\n3,4,1,1\n5,6,1.0,2\n",
    "no optional columns": b"a,b,c\n1,2,x\n",
    "unnamed columns, as spreadsheets export them": b"a,b,c,,\n1,2,x,,\n3,4,y,,\n",
    "short rows and blank lines": b"a,b,c,score\n1,2\n\n3,4,y,0.5\n\n\n5\n",
    "windows line ends": b"a,b,c\r\n1,2,x\r\n3,4,y\r\n",
    "texts float() reads": b"a,b,c\n 1 ,1_000,x\nnan,2e3,y\n",
    "nan spelled as float() reads it": b"a,b,c\n1,NaN,x\n-nan,2,y\n",
    "quoted numbers": b'a,b,c\n"1.5","",x\n"2",3,""\n',
    "malformed quotes": b'a,b,c\n1,2,x"y\n3,4,"z"w\n',
}


def _reader(arrow: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read with pyarrow (skipped where it is not installed) or with the stdlib reader."""
    if arrow:
        pytest.importorskip("pyarrow")
        monkeypatch.setattr(arrow_reader, "ARROW_CSV_BYTES", 0)  # even these small files
    else:
        _without_pyarrow(monkeypatch)


@pytest.mark.parametrize("content", TRICKY.values(), ids=TRICKY.keys())
@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_a_tricky_csv_reads_as_the_row_by_row_reader_reads_it(
    content: bytes, arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reader(arrow, monkeypatch)
    model = _model()
    _same(parse_reference(model, content, "csv", "ref"), _row_by_row(model, content))


BAD = {
    "not a number": (b"a,b,c\n1,2,x\n3,oops,y\n", "row 2: column 'b': 'oops' is not a number"),
    "nan with a payload": (b"a,b,c\n1,nan(1),x\n", "row 1: column 'b': 'nan(1)' is not a number"),
    "infinity": (b"a,b,c\n1,inf,x\n", "column 'b' holds infinities"),
    "the first column's error first": (b"a,b,c\ninf,x,y\n", "column 'a' holds infinities"),
    "no rows": (b"a,b,c\n", "has no rows"),
    "empty file": (b"", "has no rows"),
    "a missing feature": (b"a,c\n1,x\n", "lacks feature column 'b'"),
    # Read before as the last of the repeated columns, and with the extra cells dropped.
    "repeated column names": (b"a,b,c,a\n1,2,x,9\n", "the header names column 'a' twice"),
    "long rows": (b"a,b,c\n3,4,y\n1,2,x,extra\n", "line 3: 4 fields where the header has 3"),
}


@pytest.mark.parametrize(("content", "message"), BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_a_bad_csv_is_refused_with_the_row_by_row_readers_message(
    content: bytes, message: str, arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reader(arrow, monkeypatch)
    model = _model()
    with pytest.raises(ReferenceError) as fast:
        parse_reference(model, content, "csv", "ref")
    with pytest.raises(ReferenceError) as slow:
        _row_by_row(model, content)
    assert str(fast.value) == str(slow.value)
    assert message in str(fast.value)


@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_whole_numbers_a_csv_writes_as_floats_are_the_classes_json_lines_gives(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas writes a float column of whole numbers (one with a NaN) as 1.0: the labels were
    the class "1.0", never the live 1, and reference accuracy read 0."""
    _reader(arrow, monkeypatch)
    model = _model()
    csv = b"a,b,c,prediction,label\n1,2,1.0,1.0,1.0\n3,4,2.0,0.0,\n5,6,x,2.50,0.0\n"
    jsonl = (
        b'{"a": 1, "b": 2, "c": 1.0, "prediction": 1.0, "label": 1.0}\n'
        b'{"a": 3, "b": 4, "c": 2.0, "prediction": 0.0, "label": null}\n'
        b'{"a": 5, "b": 6, "c": "x", "prediction": "2.50", "label": 0.0}\n'
    )
    got, want = parse_reference(model, csv, "csv", "ref"), _row_by_row(model, jsonl, "jsonl")
    assert got.categorical == want.categorical == {"c": ("1", "2", "x")}
    assert (got.prediction, got.label) == (want.prediction, want.label)
    assert got.label == ("1", None, "0") and got.prediction == ("1", "0", "2.50")


@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_booleans_a_csv_writes_as_true_are_the_classes_json_lines_and_the_wire_give(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandas writes bools as True/False, the wire's JSON as true/false: every live value of a
    boolean feature was unseen (ratio 1.0) and drift detected on the same mix."""
    _reader(arrow, monkeypatch)
    model = _model()
    csv = b"a,b,c,prediction,label\n1,2,True,TRUE,False\n3,4,False,FALSE,True\n5,6,x,True,\n"
    jsonl = (
        b'{"a": 1, "b": 2, "c": true, "prediction": true, "label": false}\n'
        b'{"a": 3, "b": 4, "c": false, "prediction": false, "label": true}\n'
        b'{"a": 5, "b": 6, "c": "x", "prediction": true, "label": null}\n'
    )
    got, want = parse_reference(model, csv, "csv", "ref"), _row_by_row(model, jsonl, "jsonl")
    assert got.categorical == want.categorical == {"c": ("true", "false", "x")}
    assert (got.prediction, got.label) == (want.prediction, want.label)
    assert got.label == ("false", "true", None)


@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_a_csv_that_is_not_utf8_is_refused_naming_the_file(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was a UnicodeDecodeError traceback, naming neither the file nor the model."""
    _reader(arrow, monkeypatch)
    with pytest.raises(ReferenceError, match=r"ref\.csv: not UTF-8 text \(byte 11"):
        parse_reference(_model(), "a,b,c\n1,2,Zürich\n".encode("latin-1"), "csv", "ref.csv")


def test_a_json_lines_label_column_is_read_even_when_the_first_row_lacks_it() -> None:
    """Only the first row was looked at: label and score were dropped without a word."""
    model = _model("binary_classification")
    content = b'{"a": 1, "b": 2, "c": "x"}\n{"a": 3, "b": 4, "c": "y", "label": 1, "score": 0.5}\n'
    for got in (
        parse_reference(model, content, "jsonl", "ref"),
        _row_by_row(model, content, "jsonl"),
    ):
        assert got.label == (None, "1")
        assert got.score is not None and got.score[1] == 0.5


def test_json_lines_read_as_the_row_by_row_reader_reads_them() -> None:
    model = _model()
    content = b'{"a": 1, "b": 2.5, "c": 3, "label": true}\n\n{"a": null, "b": null, "c": 1.0}\n'
    _same(parse_reference(model, content, "jsonl", "ref"), _row_by_row(model, content, "jsonl"))


def _parquet(csv: bytes) -> bytes:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv
    import pyarrow.parquet

    kinds = {"c": pa.string(), "prediction": pa.string(), "label": pa.string()}
    table = pyarrow.csv.read_csv(
        pa.BufferReader(csv),
        convert_options=pyarrow.csv.ConvertOptions(column_types=kinds, strings_can_be_null=True),
    )
    out = io.BytesIO()
    pyarrow.parquet.write_table(table, out)
    return out.getvalue()


def test_a_parquet_reference_holds_what_the_same_data_as_csv_holds() -> None:
    rng = np.random.default_rng(5)
    lines = ["a,b,c,prediction,score,label"]
    for i in range(2000):
        a, b = (float(v) for v in rng.normal(size=2))
        blank = i % 97 == 0
        lines.append(f"{'' if blank else repr(a)},{b!r},k{i % 7},{i % 3},{rng.random()!r},{i % 2}")
    csv = ("\n".join(lines) + "\n").encode()
    model = _model()
    from_csv = parse_reference(model, csv, "csv", "ref.csv")
    from_parquet = parse_reference(model, _parquet(csv), "parquet", "ref.parquet")
    assert from_parquet.rows == from_csv.rows == 2000
    for name in ("a", "b"):
        np.testing.assert_array_equal(from_parquet.numeric[name], from_csv.numeric[name])
    assert from_parquet.categorical == from_csv.categorical
    assert from_parquet.prediction == from_csv.prediction
    assert from_parquet.label == from_csv.label
    assert from_csv.score is not None and from_parquet.score is not None
    np.testing.assert_array_equal(from_parquet.score, from_csv.score)


def test_a_parquet_reference_without_pyarrow_is_refused_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = _parquet(b"a,b,c\n1,2,x\n")
    _without_pyarrow(monkeypatch)
    with pytest.raises(ReferenceError) as error:
        parse_reference(_model(), content, "parquet", "ref.parquet")
    assert str(error.value) == (
        "ref.parquet: reading a Parquet reference needs pyarrow: "
        "pip install 'ml-monitoring-exporter[parquet]'"
    )


def test_a_file_that_is_not_parquet_is_refused_as_unreadable() -> None:
    pytest.importorskip("pyarrow")
    with pytest.raises(ReferenceError, match=r"ref\.parquet: not a readable Parquet file"):
        parse_reference(_model(), b"a,b,c\n1,2,x\n", "parquet", "ref.parquet")


def _both(model: ModelConfig, table: Any, csv: bytes) -> tuple[ReferenceData, ReferenceData]:
    """The same data read from Parquet and from CSV, their numeric columns checked equal."""
    import pyarrow.parquet

    out = io.BytesIO()
    pyarrow.parquet.write_table(table, out)
    from_parquet = parse_reference(model, out.getvalue(), "parquet", "ref.parquet")
    from_csv = parse_reference(model, csv, "csv", "ref.csv")
    for name in ("a", "b"):
        np.testing.assert_array_equal(from_parquet.numeric[name], from_csv.numeric[name])
    return from_parquet, from_csv


def test_parquet_numbers_stored_as_integers_or_texts_read_as_in_csv() -> None:
    model = _model(task="regression")
    csv = b"a,b,c,prediction\n1,2.5,x,3\n4,,y,5\n"
    pa = pytest.importorskip("pyarrow")

    table = pa.table(
        {
            "a": pa.array([1, 4], pa.int64()),
            "b": pa.array(["2.5", None]),
            "c": pa.array(["x", "y"]),
            "prediction": pa.array([3, 5], pa.int32()),
        }
    )
    from_parquet, from_csv = _both(model, table, csv)
    assert from_parquet.categorical == from_csv.categorical
    assert from_parquet.prediction == from_csv.prediction


def test_parquet_nulls_and_booleans_read_as_in_csv_but_an_empty_text_is_a_category() -> None:
    """A CSV has no way to write the category "" (its empty cell is a missing value), Parquet
    has, as the wire has."""
    model = _model(task="regression")
    csv = b"a,b,c\n1,1,x\n,,\n3,0,\n"
    pa = pytest.importorskip("pyarrow")

    table = pa.table(
        {
            "a": pa.array([1, None, 3], pa.int64()),
            "b": pa.array([True, None, False]),
            "c": pa.array(["x", "", None]),
        }
    )
    from_parquet, from_csv = _both(model, table, csv)
    assert from_parquet.categorical == {"c": ("x", "", None)}
    assert from_csv.categorical == {"c": ("x", None, None)}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b,c,score\n1,2,x,0.5\n3,4,y,1.5\n", "row 2: column 'score': 1.5 is not a probability"),
        (b"a,b,c,score\n1,2,x,-0.1\n", "row 1: column 'score': -0.1 is not a probability"),
    ],
)
@pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])
def test_a_binary_models_score_column_must_hold_probabilities(
    content: bytes, message: str, arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wire refuses such scores (bad_scores); the reference took them as they were."""
    _reader(arrow, monkeypatch)
    binary = {"name": "m", "task": "binary_classification", "positive_class": "1"}
    doc = {"models": [{**binary, "features": FEATURES}]}
    model = load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]
    with pytest.raises(ReferenceError, match=message):
        parse_reference(model, content, "csv", "ref")
    assert parse_reference(_model(), content, "csv", "ref").rows > 0  # multiclass: not read
