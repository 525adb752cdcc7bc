"""`reference show`: what the exporter would read for a model, from its Redis key or its file;
`reference load`: what it writes there, and what it refuses to."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import redis

from exporter.cli import main
from exporter.reference.load import (
    GZIP_LEVEL,
    encode_for_redis,
    store_in_redis,
    unpack_from_redis,
)
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


def test_reference_show_refuses_a_blank_feature_column_with_the_message_check_config_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The column parses, the fit refuses it: `show` printed rows and sha256 and exited 0."""
    data = sample(np.random.default_rng(11), 200)
    data["x3"] = np.full(200, np.nan)
    write_reference(tmp_path / "ref.csv", data)
    config = _config(tmp_path, "redis://127.0.0.1:1/0", "{file: ref.csv}")

    status, shown, err = _show(config, capsys)
    checked = main(["check-config", f"--config.file={config}"])

    reason = "the reference has no values of x3 (every row blank)"
    assert (status, shown) == (2, {})
    assert reason in err
    assert checked == 2 and reason in capsys.readouterr().err


@pytest.mark.integration
def test_reference_show_refuses_a_stored_key_once_positive_class_names_no_class_in_it(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Loaded with positive_class "1", shown after the config said "yes": exit 0 before."""
    (tmp_path / "ref.csv").write_text(
        "x,prediction,label\n" + "".join(f"{i % 37},{i % 2},{i % 2}\n" for i in range(300))
    )
    config = tmp_path / "c.yaml"
    body = (
        f"redis: {{url: '{redis_server.url}'}}\nmodels:\n  - name: m\n"
        "    task: binary_classification\n    positive_class: '1'\n"
        "    reference: {redis_key: 'ref:m'}\n    features: [{name: x, type: numeric}]\n"
    )
    config.write_text(body)
    assert _load(config, tmp_path / "ref.csv") == 0
    config.write_text(body.replace("positive_class: '1'", "positive_class: 'yes'"))
    capsys.readouterr()

    status, shown, err = _show(config, capsys)

    assert (status, shown) == (2, {})
    assert "positive_class 'yes' is not among the reference's labels or predictions" in err


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


def _load(config: Path, file: Path) -> int:
    return main(["reference", "load", f"--config.file={config}", "--model=m", f"--file={file}"])


@pytest.mark.integration
def test_reference_load_of_a_csv_read_by_pyarrow_writes_the_file_back_byte_for_byte(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(8), 50_000))
    content = (tmp_path / "ref.csv").read_bytes()
    assert len(content) > 4 * 2**20  # read by pyarrow, compressed by ISA-L where installed
    config = _config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}")

    assert _load(config, tmp_path / "ref.csv") == 0

    fields = redis_server.client().hgetall("ref:m")
    assert unpack_from_redis("ref:m", fields) == ("csv", content)
    assert fields[b"sha256"] == hashlib.sha256(content).hexdigest().encode()
    assert len(fields[b"content"]) < len(content) / 2
    assert "loaded 50000 rows for model m into ref:m" in capsys.readouterr().out


@pytest.mark.integration
def test_reference_load_of_a_reference_the_fit_refuses_exits_2_and_writes_nothing(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(9), 200))
    config = _config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}")
    text = config.read_text().replace(
        "{name: c1, type: categorical}", "{name: c1, type: categorical, method: z}"
    )
    config.write_text(text)

    assert _load(config, tmp_path / "ref.csv") == 2

    assert "feature 'c1': z: applies to binary features only" in capsys.readouterr().err
    assert redis_server.client().exists("ref:m") == 0


def test_a_reference_compressed_without_isal_reads_back_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = b"x1,x2\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(20_000))
    with_isal = encode_for_redis(content, "csv")
    monkeypatch.setitem(sys.modules, "isal", None)  # as on a platform without its wheel
    without = encode_for_redis(content, "csv")
    for fields in (with_isal, without):
        stored = {k.encode(): v for k, v in fields.items()}
        assert unpack_from_redis("k", stored) == ("csv", content)
        assert len(fields["content"]) < len(content) / 2
    assert GZIP_LEVEL == 1


@pytest.mark.integration
def test_reference_load_imports_neither_the_http_server_nor_scipy_nor_pyarrow_compute(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Each import costs every `reference load` a tenth of a second or more (scipy, a second)."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(10), 300))
    config = _config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}")
    script = (
        "import sys; from exporter.cli import main; "
        f"status = main(['reference', 'load', '--config.file={config}', '--model=m', "
        f"'--file={tmp_path / 'ref.csv'}']); "
        "heavy = ('scipy', 'prometheus_client', 'cheroot', 'apscheduler', 'jinja2', "
        "'pyarrow.compute', 'pyarrow.dataset', 'exporter.web', 'exporter.daemon'); "
        "print(status, sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr


@pytest.mark.integration
def test_reference_show_of_a_key_of_an_unknown_format_exits_2_naming_key_and_format(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a bare AssertionError traceback, exit 1."""
    content = b'{"x1": 1}\n'
    fields = {"format": "ndjson", "content": gzip.compress(content), "sha256": "0" * 64}
    redis.Redis.from_url(redis_server.url).hset("ref:m", mapping=fields)  # type: ignore[arg-type]
    status, _, err = _show(_config(tmp_path, redis_server.url, "{redis_key: 'ref:m'}"), capsys)
    assert status == 2
    assert "redis key ref:m: unknown reference format 'ndjson'" in err
