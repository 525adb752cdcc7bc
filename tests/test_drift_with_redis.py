"""End to end against a real redis-server: records in, drift verdicts and exact values out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats

from tests.conftest import RedisServer
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

FEATURES = ("x1", "x2", "x3", "c1", "c2")


def _direct_psi(ref: np.ndarray, win: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """PSI as docs/statistics.md defines it, computed independently with numpy."""
    quantiles = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])
    lows = np.unique(np.concatenate(([ref.min()], quantiles)))
    edges = np.append(lows, np.nextafter(ref.max(), np.inf))

    def shares(x: np.ndarray) -> np.ndarray:
        inner = np.histogram(x, bins=edges)[0]
        # np.histogram closes the last bin on the right; our bins are half-open [low, next)
        return np.concatenate(([np.sum(x < edges[0])], inner, [np.sum(x >= edges[-1])])) / x.size

    r, w = np.clip(shares(ref), eps, None), np.clip(shares(win), eps, None)
    return float(np.sum((w - r) * np.log(w / r)))


def test_steady_data_shows_no_drift_and_shifted_data_flags_exactly_the_shifted_features(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(20261125)
    reference = sample(rng, 20000)
    write_reference(tmp_path / "ref.csv", reference)
    steady, shifted = sample(rng, 10000), sample(rng, 10000, shift=True)
    config = make_config(tmp_path, redis_server.url, ("steady", "shifted"))
    with running(config) as daemon:
        client = redis_server.client()
        xadd_all(client, "mlmon:{steady}:predictions", records(steady))
        xadd_all(client, "mlmon:{shifted}:predictions", records(shifted))
        wait_evaluated(daemon, "steady", 10000)
        wait_evaluated(daemon, "shifted", 10000)
        flagged = {
            m: {
                f
                for f in FEATURES
                if value(daemon, "mlmon_feature_drift_detected", model=m, feature=f)
            }
            for m in ("steady", "shifted")
        }
        assert flagged == {"steady": set(), "shifted": {"x2", "c1"}}
        assert value(daemon, "mlmon_dataset_drift_share_ratio", model="shifted") == 2 / 5
        assert value(daemon, "mlmon_dataset_drift_detected", model="steady") == 0

        for model, window in (("steady", steady), ("shifted", shifted)):
            ks = stats.ks_2samp(reference["x1"], window["x1"])
            labels = {"model": model, "feature": "x1", "method": "ks"}
            assert abs(value(daemon, "mlmon_feature_drift_score", **labels) - ks.statistic) < 1e-9
            assert abs(value(daemon, "mlmon_feature_drift_p_value", **labels) - ks.pvalue) < 1e-9
            psi = value(
                daemon, "mlmon_feature_drift_score", model=model, feature="x2", method="psi"
            )
            assert abs(psi - _direct_psi(reference["x2"], window["x2"])) < 1e-9


def test_restarted_exporter_rebuilds_the_same_window_and_drift_values(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    write_reference(tmp_path / "ref.csv", sample(rng, 5000))
    config = make_config(tmp_path, redis_server.url)
    xadd_all(redis_server.client(), "mlmon:{m}:predictions", records(sample(rng, 3000, True)))
    names = [
        ("mlmon_window_samples", {}),
        *[
            ("mlmon_feature_drift_score", {"feature": f, "method": "ks" if f == "x1" else "psi"})
            for f in FEATURES
        ],
    ]
    seen = []
    for _ in range(2):
        with running(config) as daemon:
            wait_evaluated(daemon, "m", 3000)
            seen.append([value(daemon, n, model="m", **labels) for n, labels in names])
    assert seen[0] == seen[1]
    assert None not in seen[0]
