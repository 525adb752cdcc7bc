"""The command line as an operator uses it: exit codes and messages that name the culprit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from exporter.config import load_config
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import model_yaml, running, sample, value, write_reference

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def _write_config(tmp: Path, redis_url: str, body: str | None = None) -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        body
        or f"redis: {{url: '{redis_url}'}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\n"
        f"models:{model_yaml('m')}"
    )
    return path


def test_check_config_accepts_the_shipped_example() -> None:
    result = _cli("check-config", f"--config.file={ROOT / 'config' / 'example.yaml'}")
    assert result.returncode == 0, result.stderr


def test_a_broken_config_fails_check_config_and_run_with_the_key_path(tmp_path: Path) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 200))
    good = _write_config(tmp_path, "redis://127.0.0.1:1/0").read_text()
    _write_config(tmp_path, "", good.replace("type: categorical}", "type: categorial}", 1))
    for command in (["check-config"], ["run"], []):
        result = _cli(*command, f"--config.file={tmp_path / 'config.yaml'}")
        assert result.returncode == 2
        assert "models[0].features[3].type" in result.stderr


def test_a_missing_reference_file_fails_check_config_and_run_naming_it(tmp_path: Path) -> None:
    path = _write_config(tmp_path, "redis://127.0.0.1:1/0")
    for command in ("check-config", "run"):  # run fits it with its listener up, then fails
        result = _cli(command, f"--config.file={path}")
        assert result.returncode == 2
        assert "ref.csv" in result.stderr and "'m'" in result.stderr


def test_a_reference_file_with_a_bad_row_fails_check_config_and_run_naming_the_model(
    tmp_path: Path,
) -> None:
    """A missing file named its model, but a bad row named only the file and the row: which
    of the models sharing it, or of 30 models, failed was left to guess."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 50))
    lines = (tmp_path / "ref.csv").read_text().splitlines()
    cells = lines[30].split(",")
    cells[2] = "oops"  # x3, a numeric feature
    (tmp_path / "ref.csv").write_text("\n".join([*lines[:30], ",".join(cells), *lines[31:]]))
    path = _write_config(tmp_path, "redis://127.0.0.1:1/0")
    for command in ("check-config", "run"):
        result = _cli(command, f"--config.file={path}")
        assert result.returncode == 2
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("error: model 'm': "), error
        assert "ref.csv: row 30: column 'x3': 'oops' is not a number" in error


def test_a_reference_loaded_into_redis_is_fitted_and_a_new_one_replaces_it_without_restart(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2)
    config = _write_config(tmp_path, redis_server.url).read_text()
    config = config.replace("reference: {file: ref.csv}", "reference: {redis_key: 'ref:m'}")
    (tmp_path / "config.yaml").write_text(config)

    def load(rows: int) -> None:
        write_reference(tmp_path / "new.csv", sample(rng, rows))
        result = _cli(
            "reference",
            "load",
            f"--config.file={tmp_path / 'config.yaml'}",
            "--model",
            "m",
            "--file",
            str(tmp_path / "new.csv"),
        )
        assert result.returncode == 0, result.stderr
        assert f"{rows} rows" in result.stdout

    load(300)
    with running(load_config(str(tmp_path / "config.yaml"))) as daemon:
        wait_for(
            lambda: value(daemon, "mlmon_reference_samples", model="m") == 300,
            what="the first reference fitted",
        )
        load(400)
        wait_for(
            lambda: value(daemon, "mlmon_reference_samples", model="m") == 400,
            what="the new reference fitted",
        )
        assert daemon.readiness() == (True, "ready")
