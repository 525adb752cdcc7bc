"""End to end against a real redis-server: multivariate and target drift reach /metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from tests.conftest import RedisServer, wait_for
from tests.helpers import (
    make_config,
    records,
    running,
    sample,
    value,
    wait_evaluated,
    write_reference,
    xadd_all,
)


def _labels(data: dict[str, np.ndarray], count: int) -> list[bytes]:
    """Labels for the first `count` records: the reference's rule, label = x2 + 0.5."""
    return [
        orjson.dumps({"id": f"r{i}", "label": float(data["x2"][i]) + 0.5}) for i in range(count)
    ]


def test_shifted_data_raises_multivariate_and_target_drift_and_steady_data_does_not(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(31)
    write_reference(tmp_path / "ref.csv", sample(rng, 20000))
    steady, shifted = sample(rng, 3000), sample(rng, 3000, shift=True)
    config = make_config(tmp_path, redis_server.url, ("steady", "shifted"))
    with running(config) as daemon:
        client = redis_server.client()
        for model, data in (("steady", steady), ("shifted", shifted)):
            xadd_all(client, f"mlmon:{{{model}}}:predictions", records(data))
            wait_evaluated(daemon, model, 3000)
        xadd_all(client, "mlmon:{steady}:labels", _labels(steady, 3000))
        xadd_all(client, "mlmon:{shifted}:labels", _labels(shifted, 3000))

        def target(model: str) -> float | None:
            return value(daemon, "mlmon_target_drift_score", model=model, method="wasserstein")

        wait_for(
            lambda: target("steady") is not None and target("shifted") is not None,
            60,
            what="target drift of both models",
        )
        assert value(daemon, "mlmon_target_drift_detected", model="shifted") == 1
        assert value(daemon, "mlmon_target_drift_detected", model="steady") == 0
        assert target("shifted") > 0.9 > 0.1 > target("steady")  # type: ignore[operator]
        pca = {"method": "pca_reconstruction"}
        for model, detected in (("steady", 0), ("shifted", 1)):
            assert value(daemon, "mlmon_multivariate_drift_detected", model=model) == detected
            score = value(daemon, "mlmon_multivariate_drift_score", model=model, **pca)
            cut = value(daemon, "mlmon_multivariate_drift_threshold", model=model, **pca)
            assert score is not None and cut is not None and (score > cut) == bool(detected)


def test_fewer_labels_than_min_samples_export_no_target_drift(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(32)
    write_reference(tmp_path / "ref.csv", sample(rng, 5000))
    data = sample(rng, 500)
    config = make_config(tmp_path, redis_server.url)
    with running(config) as daemon:
        client = redis_server.client()
        xadd_all(client, "mlmon:{m}:predictions", records(data))
        wait_evaluated(daemon, "m", 500)
        xadd_all(client, "mlmon:{m}:labels", _labels(data, 99))
        wait_for(
            lambda: daemon.registry.get_sample_value("mlmon_labels_total", {"model": "m"}) == 99,
            30,
            what="99 labels read",
        )
        before = value(daemon, "mlmon_evaluation_last_success_timestamp_seconds", model="m")
        wait_for(
            lambda: (
                value(daemon, "mlmon_evaluation_last_success_timestamp_seconds", model="m")
                != before
            ),
            30,
            what="an evaluation after the labels",
        )
        assert value(daemon, "mlmon_target_drift_detected", model="m") is None
        assert value(daemon, "mlmon_target_drift_score", model="m", method="wasserstein") is None
