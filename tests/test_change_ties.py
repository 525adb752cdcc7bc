"""Tail watches on values with ties (two-valued scores, mostly-zero features, counts): each
side's rate is the reference's own share past its cut, so shifts show and the bound holds."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from bench.change_ties import Draw
from bench.change_ties import score as score_draws
from bench.change_ties import zeros as zero_draws
from exporter.config import load_config_text
from exporter.daemon.change import TailWatch, tail_watches
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.data import ReferenceData
from exporter.reference.load import read_reference_file
from exporter.stats.change import DEFAULT_THRESHOLD
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import running, value, xadd_all
from tests.test_change_detection import CONFIG as CHANGE_CONFIG

RUNS = 100
CHANGE_AT = 5000
PER_SIGNAL_BOUND = 2 * 1_000_000 / math.exp(DEFAULT_THRESHOLD)  # one bound per side
MODEL = (
    "models: [{name: m, task: binary_classification, positive_class: '1',"
    " reference: {file: x.csv}, features: [{name: z, type: numeric}],"
    " change: {features: [z]}}]"
)
MOSTLY_ZERO = zero_draws(0.05)


def _watches(rng: np.random.Generator, z: Draw = MOSTLY_ZERO) -> dict[str, TailWatch]:
    """The watches of a reference with scores 0.2 (70 %) or 0.7 (30 %) and `z` 95 % zeros."""
    model = load_config_text(MODEL).models[0]
    score = score_draws(0.3)(rng, 20_000)
    data = ReferenceData(20_000, {"z": z(rng, 20_000)}, {}, None, score, None, "t")
    return tail_watches(model, data)


def _delays(signal: str, before: Draw, after: Draw) -> list[float]:
    """Per seeded run: records from the change to the first detection (inf: none in 5,000)."""
    out = []
    for seed in range(RUNS):
        rng = np.random.default_rng(seed)
        watch = _watches(rng)[signal]
        watch.feed(before(rng, CHANGE_AT))
        found = watch.feed(after(rng, 5000))
        out.append(found[0] if found else math.inf)
    return out


def test_a_two_valued_score_is_seen_within_200_records_when_its_high_value_goes_to_90_percent() -> (
    None
):
    delays = _delays("prediction", score_draws(0.3), score_draws(0.9))
    assert all(d < 200 for d in delays), delays


def test_a_mostly_zero_feature_is_seen_within_1000_records_when_its_non_zero_values_vanish() -> (
    None
):
    delays = _delays("z", zero_draws(0.05), zero_draws(0.0))
    assert all(d < 1000 for d in delays), delays


def test_a_mostly_zero_feature_is_seen_within_500_records_in_90_of_100_when_non_zeros_triple() -> (
    None
):
    delays = _delays("z", zero_draws(0.05), zero_draws(0.15))
    assert sum(d < 500 for d in delays) >= 90, delays


def test_stationary_tied_streams_give_no_more_false_detections_than_documented() -> None:
    """Wald's bound, e**-threshold per record and side, holds once p0 is the reference's share
    of each side, for a two-valued score, a mostly-zero feature and counts tied at both cuts."""
    rng = np.random.default_rng(21)
    counts: Draw = lambda rng, n: rng.poisson(2.0, n).astype(float)  # noqa: E731
    streams = [("prediction", score_draws(0.3), _watches(rng))]
    streams += [("z", zero_draws(0.05), _watches(rng)), ("z", counts, _watches(rng, counts))]
    for signal, draw, watches in streams:
        found = sum(len(watches[signal].feed(draw(rng, 100_000))) for _ in range(10))
        assert found <= PER_SIGNAL_BOUND, (signal, found)


def test_a_continuous_feature_keeps_its_10th_and_90th_percentile_cuts_at_a_tenth_each_side() -> (
    None
):
    rng = np.random.default_rng(22)
    values = rng.normal(0, 1, 20_001)
    watch = _watches(rng, lambda _rng, _n: values)["z"]
    low, high = watch.sides
    assert (low.cut, high.cut) == tuple(np.quantile(values, [0.1, 0.9]))
    assert not low.inclusive and not high.inclusive
    for side in watch.sides:
        assert side.detector.p0 == pytest.approx(0.1, abs=1 / 20_001)
        assert side.detector.p1 == pytest.approx(side.detector.p0 + 0.1)


def test_a_constant_feature_is_not_watched_and_the_log_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        watches = _watches(np.random.default_rng(23), lambda _rng, n: np.full(n, 3.0))
    assert "z" not in watches and "prediction" in watches
    said = [r.getMessage() for r in caplog.records]
    assert any("side of z is not watched" in m and "all 3" in m for m in said), said


def _reference(path: Path, rng: np.random.Generator) -> None:
    score, z = score_draws(0.3)(rng, 4000), zero_draws(0.05)(rng, 4000)
    rows = [f"{v!r},{s!r},{int(s > 0.5)}" for v, s in zip(z.tolist(), score.tolist(), strict=True)]
    path.write_text("\n".join(["z,score,prediction", *rows]) + "\n")


# The change tests' model, over z and with its tail watched.
CONFIG = (
    CHANGE_CONFIG.replace("{{name: x, type: numeric}}", "{{name: z, type: numeric}}")
    + "    change: {{features: [z]}}\n"
)


def test_the_daemon_counts_shifts_of_a_two_valued_score_and_of_a_mostly_zero_feature(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Through Redis: 0.7 scores go from 30 % to 90 % and z's non-zero values vanish; before
    p0 followed the ties, neither signal ever counted a detection."""
    rng = np.random.default_rng(24)
    _reference(tmp_path / "ref.csv", rng)
    text = CONFIG.format(url=redis_server.url, port=free_port())
    config = load_config_text(text, base_dir=str(tmp_path))
    score, z = score_draws(0.9)(rng, 5000), zero_draws(0.0)(rng, 5000)
    records = [
        orjson.dumps({"id": f"r{i}", "features": {"z": v}, "scores": s, "prediction": int(s > 0.5)})
        for i, (v, s) in enumerate(zip(z.tolist(), score.tolist(), strict=True))
    ]
    with running(config) as daemon:
        wait_for(lambda: value(daemon, "mlmon_change_threshold", model="m", signal="feature:z"))
        xadd_all(redis_server.client(), "mlmon:{m}:predictions", records)
        read = lambda: value(daemon, "mlmon_records_read_total", model="m", kind="predictions")  # noqa: E731
        wait_for(lambda: read() == 5000, 60, what="every record read")
        found = {
            s: value(daemon, "mlmon_change_detections_total", model="m", signal=s)
            for s in ("prediction", "feature:z")
        }
    assert all(n is not None and n >= 1 for n in found.values()), found


def test_a_feature_whose_new_reference_is_constant_loses_its_change_series(
    tmp_path: Path,
) -> None:
    """It stopped being watched, and its series stayed at their last values for ever."""
    config = load_config_text(
        CONFIG.format(url="redis://127.0.0.1:1/0", port=free_port()), base_dir=str(tmp_path)
    )
    (m,) = config.models
    registry = CollectorRegistry()
    p = ModelPipeline(m, LiveMetrics(registry, [m]), SnapshotStore())
    _reference(tmp_path / "ref.csv", np.random.default_rng(30))
    p.fit(read_reference_file(m, str(tmp_path / "ref.csv")))
    series = {"model": "m", "signal": "feature:z"}
    assert registry.get_sample_value("mlmon_change_threshold", series) is not None
    (tmp_path / "ref.csv").write_text("z,score,prediction\n" + "3.0,0.2,0\n3.0,0.7,1\n" * 500)
    p.fit(read_reference_file(m, str(tmp_path / "ref.csv")))
    assert registry.get_sample_value("mlmon_change_threshold", series) is None
    assert registry.get_sample_value("mlmon_change_threshold", {**series, "signal": "prediction"})
