"""The reference's own missing share per feature, which MLMonFeatureMissingValues compares the
window's with: a feature null in a fifth of the reference rows is healthy at 20 % live."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import redis
from prometheus_client import CollectorRegistry

from exporter.config import load_config
from exporter.daemon import Daemon
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import model_yaml, records, sample, value, write_reference, xadd_all

ROWS = 500


def _reference(path: Path) -> None:
    """x1 null in 100 of 500 rows (NaN), c1 blank in 50 (an empty cell), the rest complete."""
    data = sample(np.random.default_rng(21), ROWS)
    data["x1"][:100] = np.nan
    c1 = data["c1"].astype(object)
    c1[100:150] = ""
    data["c1"] = c1
    write_reference(path, data)


def _config(redis_url: str, models: str) -> str:
    return (
        f"redis: {{url: '{redis_url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + models
    )


def test_the_reference_missing_share_is_exported_per_feature_and_leaves_with_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    _reference(tmp_path / "ref.csv")
    path = tmp_path / "config.yaml"
    path.write_text(_config(redis_server.url, model_yaml("m") + model_yaml("n")))
    daemon = Daemon(load_config(str(path)), registry=CollectorRegistry(), config_path=str(path))
    live = sample(np.random.default_rng(22), 200)
    xadd_all(redis.Redis.from_url(redis_server.url), "mlmon:{m}:predictions", records(live))
    daemon.start()
    try:

        def share(model: str, feature: str) -> float | None:
            return value(
                daemon, "mlmon_feature_reference_missing_ratio", model=model, feature=feature
            )

        wait_for(lambda: value(daemon, "mlmon_window_samples", model="m") == 200, 60)
        wait_for(lambda: share("n", "x1") is not None, 60)
        assert share("m", "x1") == 0.2
        assert share("m", "c1") == 0.1
        assert share("m", "x2") == 0.0
        assert share("m", "c2") == 0.0
        # The window's own share is unchanged by it: the live records are complete.
        assert value(daemon, "mlmon_feature_missing_ratio", model="m", feature="x1") == 0.0

        without_x1 = model_yaml("m").replace("      - {name: x1, type: numeric, method: ks}\n", "")
        path.write_text(_config(redis_server.url, without_x1))
        assert daemon.reload()
        assert share("n", "x1") is None, "a removed model kept its reference share"
        wait_for(lambda: share("m", "x1") is None, 60, what="x1 gone after the next evaluation")
        assert share("m", "c1") == 0.1
    finally:
        daemon.stop()
