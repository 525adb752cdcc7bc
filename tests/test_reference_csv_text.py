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
from exporter.reference.load import ReferenceData, parse_reference

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
