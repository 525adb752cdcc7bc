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
from exporter.reference.load import ReferenceError, store_in_redis
from tests.conftest import RedisServer
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


@pytest.mark.parametrize("broken", ["missing", "column dropped", "bad row"])
def test_a_reload_fails_on_a_reference_file_a_restart_would_refuse(
    tmp_path: Path, broken: str
) -> None:
    """It was counted a success, and the next restart crash-looped."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    (old,) = _pipelines(tmp_path)
    fitted = old.fitted
    if broken == "missing":
        (tmp_path / "ref.csv").unlink()
    elif broken == "bad row":  # it named the file and the row, not the model
        lines = (tmp_path / "ref.csv").read_text().splitlines()
        lines[5] = ",".join([*lines[5].split(",")[:2], "oops", *lines[5].split(",")[3:]])
        (tmp_path / "ref.csv").write_text("\n".join(lines))
    else:
        data = sample(np.random.default_rng(3), 300)
        del data["x3"]
        write_reference(tmp_path / "ref.csv", data)
    with pytest.raises(ReferenceError, match=r"model 'm'.*(ref\.csv|x3)"):
        _pipelines(tmp_path, keep={"m": old})
    assert old.fitted is fitted  # the running model is untouched


def _redis_keyed(tmp: Path, redis_url: str, interval: str) -> str:
    yaml = model_yaml("m", interval).replace("{file: ref.csv}", "{redis_key: 'ref:{m}'}")
    return f"redis: {{url: '{redis_url}'}}\nmodels:" + yaml


def _build_from_redis(
    tmp: Path, redis_server: RedisServer, interval: str, keep: dict[str, ModelPipeline] | None
) -> tuple[ModelPipeline, ...]:
    config = load_config_text(_redis_keyed(tmp, redis_server.url, interval), {}, base_dir=str(tmp))
    live = LiveMetrics(CollectorRegistry(), config.models)
    client = redis_server.client()
    return build_pipelines(config, live, SnapshotStore(), keep=keep, client=client)


def _fitted_from_redis(tmp: Path, redis_server: RedisServer) -> ModelPipeline:
    """Model m fitted from its reference key, as the running config has it."""
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(1), 300))
    store_in_redis(redis_server.client(), "ref:{m}", (tmp / "ref.csv").read_bytes(), "csv")
    (old,) = _build_from_redis(tmp, redis_server, "1s", None)
    return old


def test_a_reload_that_would_drop_the_fit_of_a_lost_reference_key_is_refused(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """A schedule edit, reloaded while the key was gone, was a success that left the fitted
    model with no reference: every evaluation failed until someone ran `reference load`."""
    old = _fitted_from_redis(tmp_path, redis_server)
    assert old.fitted is not None
    redis_server.client().delete("ref:{m}")
    with pytest.raises(ReferenceError, match=r"models\[m\]\.reference\.redis_key.*ref:\{m\}"):
        _build_from_redis(tmp_path, redis_server, "2s", {"m": old})
    (new,) = _build_from_redis(tmp_path, redis_server, "2s", None)  # nothing fitted to lose
    assert new.fitted is None


def test_a_reload_while_redis_is_down_is_not_refused_for_a_fitted_redis_reference(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Refusing it for an outage lost the edit: the watcher does not retry an unchanged file."""
    old = _fitted_from_redis(tmp_path, redis_server)
    redis_server.stop()
    (new,) = _build_from_redis(tmp_path, redis_server, "2s", {"m": old})
    assert new is not old and new.model.schedule.interval_seconds == 2


def test_a_reload_that_would_drop_the_fit_of_a_key_of_another_type_is_refused(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """A key someone SET to a string is not an outage: the reload dropped the fitted copy."""
    old = _fitted_from_redis(tmp_path, redis_server)
    redis_server.client().delete("ref:{m}")
    redis_server.client().set("ref:{m}", "oops")
    with pytest.raises(ReferenceError, match="WRONGTYPE"):
        _build_from_redis(tmp_path, redis_server, "2s", {"m": old})


def test_start_up_fitting_references_from_redis_says_so_and_counts_redis_up(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """30 models fitting their Redis references at start-up read "redis unreachable" with
    mlmon_redis_up 0 for 15 s, from the Redis they were fitted from (MLMonRedisUnreachable
    would fire past 2 minutes)."""
    from exporter.daemon import Daemon
    from exporter.daemon.runtime import _fit_now

    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(2), 300))
    store_in_redis(redis_server.client(), "ref:{m}", (tmp_path / "ref.csv").read_bytes(), "csv")
    text = _redis_keyed(tmp_path, redis_server.url, "1s")
    registry = CollectorRegistry()
    daemon = Daemon(load_config_text(text, {}, base_dir=str(tmp_path)), registry=registry)
    (pipeline,) = daemon.runtime.pipelines
    pipeline.fitted = None  # as a start-up finds it when the build could not fit it
    assert daemon.readiness() == (False, "fitting references (0 of 1 fitted)")
    _fit_now(daemon.runtime, pipeline)
    assert daemon.readiness() == (False, "fitting references (1 of 1 fitted)")
    assert registry.get_sample_value("mlmon_redis_up") == 1
