"""CSV text as spreadsheets and scripts write it: any line ends, long cells and broken quotes
read alike by every reader, or refused naming the file and line, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from exporter.cli import main
from exporter.config import ModelConfig, load_config_text
from exporter.reference import arrow as arrow_reader
from exporter.reference.load import ReferenceData, ReferenceError, parse_reference

FEATURES = [{"name": "amount", "type": "numeric"}, {"name": "country", "type": "categorical"}]
GOOD = "amount,country\n" + "".join(f"{i * 1.5},{['DE', 'FR'][i % 2]}\n" for i in range(200))


def _model(features: Any = None) -> ModelConfig:
    doc = {"models": [{"name": "m", "task": "regression", "features": features or FEATURES}]}
    return load_config_text(yaml.safe_dump(doc), {}, base_dir="/etc/mlmon").models[0]


def _reader(arrow: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read with pyarrow (skipped where it is not installed) or with the stdlib reader."""
    if arrow:
        pytest.importorskip("pyarrow")
        monkeypatch.setattr(arrow_reader, "ARROW_CSV_BYTES", 0)  # even these small files
    else:
        for name in ("pyarrow", "pyarrow.compute", "pyarrow.csv", "pyarrow.parquet"):
            monkeypatch.setitem(sys.modules, name, None)


def _read(text: str) -> ReferenceData:
    return parse_reference(_model(), text.encode(), "csv", "ref.csv")


READERS = pytest.mark.parametrize("arrow", [True, False], ids=["pyarrow", "stdlib"])


@READERS
def test_a_csv_with_classic_mac_line_ends_reads_as_with_newlines(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Excel's "CSV (Macintosh)" ends lines with a bare CR: loading one was a _csv.Error
    traceback, exit 1, and the daemon died at start-up."""
    _reader(arrow, monkeypatch)
    got, want = _read(GOOD.replace("\n", "\r")), _read(GOOD)
    assert got.rows == want.rows == 200
    np.testing.assert_array_equal(got.numeric["amount"], want.numeric["amount"])
    assert got.categorical == want.categorical


@READERS
def test_a_cell_longer_than_the_csv_modules_limit_is_read(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The csv module stops at 131,072 characters a cell: a traceback, exit 1."""
    _reader(arrow, monkeypatch)
    lines = GOOD.splitlines(keepends=True)
    long = "x" * 140_000
    got = _read(lines[0] + f"1.0,{long}\n" + "".join(lines[1:]))
    assert got.rows == 201
    assert got.categorical["country"][0] == long


def test_check_config_accepts_a_classic_mac_csv_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ref.csv").write_bytes(GOOD.replace("\n", "\r").encode())
    model = {"name": "m", "task": "regression", "features": FEATURES}
    config = {"models": [{**model, "reference": {"file": "ref.csv"}}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))

    status = main(["check-config", f"--config.file={tmp_path / 'c.yaml'}"])

    assert status == 0, capsys.readouterr().err


def _unclosed_at_line_302() -> str:
    """1,000 rows, one of them with a stray opening quote (a hand edit)."""
    lines = ["amount,country"] + [f"{i * 1.5},{['DE', 'FR'][i % 2]}" for i in range(1000)]
    lines[301] = '450.0,"DE'
    return "\n".join(lines) + "\n"


NEVER_CLOSED = {
    "one row of a thousand": (_unclosed_at_line_302(), 302),
    "in the last row, no line end": ('amount,country\n1,x\n2,"y', 3),
    "a number's cell": ('amount,country\n1,x\n"2,y\n3,z\n', 3),
    "in the header": ('amount,"country\n1,x\n', 1),
}


@pytest.mark.parametrize(("text", "line"), NEVER_CLOSED.values(), ids=NEVER_CLOSED.keys())
@READERS
def test_a_quote_never_closed_is_refused_with_its_line(
    text: str, line: int, arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The csv module and pyarrow end the cell at the end of the file without a word: the
    thousand rows loaded as 301, the rest of the file one category."""
    _reader(arrow, monkeypatch)
    with pytest.raises(ReferenceError) as error:
        _read(text)
    assert str(error.value) == (
        f"ref.csv: line {line}: a quote opened in this row is never closed "
        "(the rest of the file would be one cell)"
    )


@READERS
def test_quoted_cells_closed_at_the_end_of_the_file_are_read(
    arrow: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reader(arrow, monkeypatch)
    for text in ('amount,country\n1,"x"\n2,"y ""z"""\n', 'amount,country\r1,"x"\r2,"y ""z"""'):
        assert _read(text).categorical == {"country": ("x", 'y "z"')}


def test_check_config_refuses_a_quote_never_closed_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ref.csv").write_text(_unclosed_at_line_302())
    model = {"name": "m", "task": "regression", "features": FEATURES}
    config = {"models": [{**model, "reference": {"file": "ref.csv"}}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))

    status = main(["check-config", f"--config.file={tmp_path / 'c.yaml'}"])

    assert status == 2
    assert f"{tmp_path / 'ref.csv'}: line 302: a quote opened" in capsys.readouterr().err
