"""A reload checks and refits reference files as a restart would, and keeps kept windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.daemon.validate import build_pipelines
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import ReferenceError
from tests.helpers import model_yaml, sample, write_reference


def _pipelines(
    tmp: Path, keep: dict[str, ModelPipeline] | None = None
) -> tuple[ModelPipeline, ...]:
    config = load_config_text(
        "models:" + model_yaml("m"), {}, base_dir=str(tmp), source=str(tmp / "c.yaml")
    )
    live = LiveMetrics(CollectorRegistry(), config.models)
    return build_pipelines(config, live, SnapshotStore(), keep=keep)


def test_a_reload_refits_a_changed_reference_file_into_the_kept_window(tmp_path: Path) -> None:
    """An unchanged model section kept its old fit: a new reference file was never read."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    (old,) = _pipelines(tmp_path)
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(2), 500))
    (new,) = _pipelines(tmp_path, keep={"m": old})
    assert new is old and new.fitted is not None and new.fitted.rows == 500


def test_a_reload_keeps_the_fit_of_an_unchanged_reference_file(tmp_path: Path) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    (old,) = _pipelines(tmp_path)
    fitted = old.fitted
    (new,) = _pipelines(tmp_path, keep={"m": old})
    assert new is old and new.fitted is fitted


@pytest.mark.parametrize("broken", ["missing", "column dropped"])
def test_a_reload_fails_on_a_reference_file_a_restart_would_refuse(
    tmp_path: Path, broken: str
) -> None:
    """It was counted a success, and the next restart crash-looped."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    (old,) = _pipelines(tmp_path)
    fitted = old.fitted
    if broken == "missing":
        (tmp_path / "ref.csv").unlink()
    else:
        data = sample(np.random.default_rng(3), 300)
        del data["x3"]
        write_reference(tmp_path / "ref.csv", data)
    with pytest.raises(ReferenceError, match=r"ref\.csv|x3"):
        _pipelines(tmp_path, keep={"m": old})
    assert old.fitted is fitted  # the running model is untouched
