"""Multivariate drift is exported only where a row can be rebuilt imperfectly, and rounding
noise never counts as a detection."""

from __future__ import annotations

import json
import time

import fakeredis
import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.daemon import Daemon
from exporter.demo.runner import demo_config
from exporter.demo.simulate import SIMS, reference_csv
from exporter.reference.load import store_in_redis
from exporter.stats.multivariate import PCAReconstruction, fold_labels
from exporter.web.pages import render

EVALUATIONS = 200
FIRST_WINDOW = 2000
# New records before each evaluation: the window slides as in the demo, at a tenth of the cost.
RECORDS_PER_EVALUATION = 100


def _demo_daemon() -> tuple[Daemon, fakeredis.FakeRedis]:
    """The demo's models and references, on an in-process Redis; nothing is started."""
    client = fakeredis.FakeRedis()
    config = demo_config("redis://127.0.0.1:1/0", "127.0.0.1:0")
    for i, model in enumerate(config.models):
        assert model.reference.redis_key is not None
        store_in_redis(
            client, model.reference.redis_key, reference_csv(model.name, 5000, seed=i), "csv"
        )
    return Daemon(config, client=client, registry=CollectorRegistry()), client


def _healthy_entries(
    name: str, rng: np.random.Generator, n: int, start: int
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Prediction entries drawn from the model's reference distribution, stamped now."""
    now = time.time()
    rows = []
    for _ in range(n):
        row = SIMS[name].row(rng, drifting=False)
        row.pop("label")
        rows.append(orjson.dumps({"ts": now, **row}))
    ms = int(now * 1000)
    return [(f"{ms}-{start + i}".encode(), {b"data": p}) for i, p in enumerate(rows)]


def test_the_stable_demo_model_never_detects_multivariate_drift_in_200_evaluations() -> None:
    daemon, client = _demo_daemon()
    eta = next(p for p in daemon.pipelines if p.model.name == "eta")
    rng = np.random.default_rng(11)
    eta.ingest_predictions(_healthy_entries("eta", rng, FIRST_WINDOW, 0))
    detections = 0
    for i in range(EVALUATIONS):
        eta.ingest_predictions(
            _healthy_entries(
                "eta", rng, RECORDS_PER_EVALUATION, FIRST_WINDOW + i * RECORDS_PER_EVALUATION
            )
        )
        assert eta.evaluate(client)
        drift = daemon.store.models["eta"].multivariate_drift
        detections += drift is not None and drift.drifted
    assert detections == 0
    assert (
        daemon.registry.get_sample_value("mlmon_multivariate_drift_detected", {"model": "eta"})
        is None
    )


def test_the_model_page_says_why_a_model_has_no_multivariate_drift() -> None:
    daemon, client = _demo_daemon()
    eta = next(p for p in daemon.pipelines if p.model.name == "eta")
    eta.ingest_predictions(_healthy_entries("eta", np.random.default_rng(3), 500, 0))
    assert eta.evaluate(client)
    found = render("/models/eta", "application/json", daemon.store, ["fraud", "eta"])
    assert found is not None
    multivariate = json.loads(found[2])["multivariate"]
    assert multivariate["drift"] is None
    assert "keeps all 2 components of 2 numeric features" in multivariate["note"]
    page = render("/models/eta", "text/html", daemon.store, ["fraud", "eta"])
    assert page is not None and "multivariate drift: not applicable" in page[2].decode()


def test_a_score_at_rounding_noise_is_not_a_detection_even_above_its_threshold() -> None:
    rng = np.random.default_rng(5)
    pca = PCAReconstruction.fit(rng.normal(size=(2000, 2)), variance=0.99)
    assert pca.kept == 2 and not pca.applicable  # every row is rebuilt exactly
    cut = pca.threshold(100)
    scores = [pca.score(rng.normal(size=(100, 2))) for _ in range(50)]
    assert max(scores) < 1e-12 and cut < 1e-12
    assert not any(pca.drifted(s, cut) for s in scores)
    assert not pca.drifted(6.0e-17, 5.9e-17)  # the flip the demo showed, as numbers


def test_a_correlation_flip_is_still_detected_where_components_are_dropped() -> None:
    rng = np.random.default_rng(8)
    base = rng.normal(size=(3000, 1))
    reference = np.hstack([base + rng.normal(0, 0.2, (3000, 1)) for _ in range(3)])
    pca = PCAReconstruction.fit(reference)
    assert pca.applicable
    flipped = reference[:500].copy()
    flipped[:, 2] = -flipped[:, 2]  # same marginals, broken correlation
    score, cut = pca.score(flipped), pca.threshold(500)
    assert pca.drifted(score, cut)
    assert not pca.drifted(pca.score(reference[500:1000]), cut)


def test_float_limit_rows_keep_the_multivariate_score_finite_and_a_shift_flagged() -> None:
    rng = np.random.default_rng(12)
    pca = PCAReconstruction.fit(rng.normal(size=(2000, 9)))
    drifted = rng.normal(size=(1000, 9)) * 3
    assert pca.drifted(*pca.decide(drifted))
    for value in (-1.79e308, 1.79e308):
        drifted[:5] = value  # finite, so accepted on the wire
        score, threshold = pca.decide(drifted)
        assert np.isfinite(score) and np.isfinite(threshold)
        assert pca.drifted(score, threshold)
    reference = rng.normal(size=(2000, 9))
    reference[0] = 1.79e308
    assert np.isfinite(PCAReconstruction.fit(reference).score(rng.normal(size=(100, 9))))


def test_each_fold_rebuilds_rows_as_an_svd_of_the_other_four_fifths_does() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(20_000, 3)) @ rng.normal(size=(3, 40)) + 0.3 * rng.normal(
        size=(20_000, 40)
    )
    x[rng.random(x.shape) < 0.02] = np.nan
    fitted = PCAReconstruction.fit(x, 0.65)

    mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    scale = np.where(std > 0, std, 1.0)
    z = np.nan_to_num((x - mean) / scale)
    _, singular, _ = np.linalg.svd(z, full_matrices=False)
    explained = np.cumsum(singular**2) / np.sum(singular**2)
    kept = int(np.searchsorted(explained, 0.65 - 1e-12) + 1)
    folds = fold_labels(len(x))
    by_svd = np.stack(
        [np.linalg.svd(z[folds != f], full_matrices=False)[2][:kept] for f in range(5)]
    )
    held_out = PCAReconstruction(mean, scale, by_svd, np.empty(0))

    assert fitted.kept == kept
    window = x[:1000]  # row i is rebuilt by fold i mod 5's components
    np.testing.assert_allclose(
        fitted.row_errors(window), held_out.row_errors(window), rtol=1e-9, atol=1e-12
    )
    for f in range(5):  # each reference row by the components fitted without its fold
        rows = x[folds == f]
        expected = PCAReconstruction(mean, scale, by_svd[f : f + 1], np.empty(0)).row_errors(rows)
        np.testing.assert_allclose(fitted.reference_errors[folds == f], expected, rtol=1e-9)
