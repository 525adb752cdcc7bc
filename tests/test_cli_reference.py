"""`reference show`: what the exporter would read for a model, from its Redis key or its file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import redis

from exporter.cli import main
from exporter.reference.load import store_in_redis
from tests.conftest import RedisServer
from tests.helpers import model_yaml, sample, write_reference


def _config(tmp_path: Path, redis_url: str, reference: str) -> Path:
    path = tmp_path / "c.yaml"
    body = model_yaml("m").replace("reference: {file: ref.csv}", f"reference: {reference}")
    path.write_text(f"redis: {{url: '{redis_url}'}}\nmodels:{body}")
    return path


def _show(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], str]:
    status = main(["reference", "show", f"--config.file={config}", "--model=m"])
    out, err = capsys.readouterr()
    fields = dict(line.split(": ", 1) for line in out.splitlines())
    return status, {k: v.strip() for k, v in fields.items()}, err


@pytest.mark.integration
def test_reference_show_describes_the_reference_in_the_models_redis_key(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(4), 250))
    content = (tmp_path / "ref.csv").read_bytes()
    store_in_redis(redis.Redis.from_url(redis_server.url), "ref:m", content, "csv")
    config = _config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}")

    status, shown, _ = _show(config, capsys)

    assert status == 0
    assert shown["source"] == "redis key ref:m" and shown["format"] == "csv"
    assert shown["sha256"] == hashlib.sha256(content).hexdigest()
    assert shown["rows"] == "250"
    assert shown["columns"] == content.decode().splitlines()[0].replace(",", ", ")
    assert shown["size"].endswith("gzipped in Redis)")


@pytest.mark.integration
def test_reference_show_of_an_empty_key_exits_2_saying_to_load_one(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _show(_config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}"), capsys)
    assert status == 2
    assert "redis key ref:m is empty" in err and "reference load" in err


def test_reference_show_of_a_file_reference_reads_the_file_as_the_exporter_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(5), 120))
    config = _config(tmp_path, "redis://127.0.0.1:1/0", "{file: ref.csv}")

    status, shown, _ = _show(config, capsys)

    assert status == 0
    assert shown["source"] == f"file {tmp_path / 'ref.csv'}"
    assert shown["rows"] == "120"
    assert shown["sha256"] == hashlib.sha256((tmp_path / "ref.csv").read_bytes()).hexdigest()


def test_reference_show_refuses_a_reference_the_exporter_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ref.csv").write_text("x1,x2\n1,2\n")
    config = _config(tmp_path, "redis://127.0.0.1:1/0", "{file: ref.csv}")
    status, _, err = _show(config, capsys)
    assert status == 2
    assert "lacks feature column 'x3'" in err


@pytest.mark.integration
def test_a_parquet_reference_loaded_into_redis_shows_the_rows_and_columns_of_its_csv(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.csv
    import pyarrow.parquet

    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(6), 300))
    table = pyarrow.csv.read_csv(tmp_path / "ref.csv")
    pyarrow.parquet.write_table(table, tmp_path / "ref.parquet")
    config = _config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}")

    loaded = main(
        [
            "reference",
            "load",
            f"--config.file={config}",
            "--model=m",
            f"--file={tmp_path}/ref.parquet",
        ]
    )
    capsys.readouterr()
    status, shown, _ = _show(config, capsys)

    assert (loaded, status) == (0, 0)
    assert shown["format"] == "parquet" and shown["rows"] == "300"
    assert shown["columns"] == ", ".join(table.column_names)
