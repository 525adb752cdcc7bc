"""A value a categorical feature's `allowed` lists is never an unseen category, however many
new values came before it; for drift it stays a category the reference never held."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, load_config
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import FeatureSnapshot, SnapshotStore
from exporter.expose.live import LiveMetrics
from tests.helpers import Clock

T0 = 1_700_000_000.0
REFERENCE = ("DE", "FR", "US")
ALLOWED = (*REFERENCE, *(f"N{i}" for i in range(60)))  # 60 more than max_new_categories' 50


def _model(tmp: Path, allowed: tuple[str, ...]) -> ModelConfig:
    """A regressor over one categorical feature, its reference holding DE, FR and US only."""
    rng = np.random.default_rng(5)
    rows = [f"{rng.choice(REFERENCE)},{rng.normal():.3f}" for _ in range(500)]
    (tmp / "ref.csv").write_text("\n".join(["country,prediction", *rows]) + "\n")
    (tmp / "config.yaml").write_text(
        f"""
models:
  - name: q
    task: regression
    reference: {{file: ref.csv}}
    window: {{duration: 10s}}
    min_samples: 10
    multivariate: {{enabled: off}}
    features:
      - {{name: country, type: categorical, allowed: {list(allowed)}}}
"""
    )
    return load_config(str(tmp / "config.yaml")).models[0]


class _Pipeline:
    """One model's pipeline with its own clock, store and counters."""

    def __init__(self, model: ModelConfig) -> None:
        self.clock = Clock(T0)
        self.store = SnapshotStore()
        self.registry = CollectorRegistry()
        live = LiveMetrics(self.registry, [model])
        self.pipeline = ModelPipeline(model, live, self.store, self.clock)
        self.sent = 0

    def send(self, countries: list[str]) -> None:
        """One read of records, one per country, stamped now."""
        at = int(self.clock.now * 1000)
        entries = []
        for country in countries:
            record = {"id": f"r{self.sent}", "features": {"country": country}, "prediction": 0.1}
            entries.append((f"{at}-{self.sent}".encode(), {b"data": orjson.dumps(record)}))
            self.sent += 1
        self.pipeline.ingest_predictions(entries)

    def country(self) -> FeatureSnapshot:
        """The feature as an evaluation now shows it."""
        assert self.pipeline.evaluate(None)
        return self.store.models["q"].features[0]

    def folded(self) -> float | None:
        """`mlmon_series_limited_total{kind="category"}`."""
        labels = {"model": "q", "kind": "category"}
        return self.registry.get_sample_value("mlmon_series_limited_total", labels)


def test_allowed_values_past_max_new_categories_are_not_unseen_nor_folded(tmp_path: Path) -> None:
    """The 60 allowed values the reference lacks took new-category slots; past the 50 they
    folded into __other__ and counted as unseen: ratio 0.1587 (20 of 126), 20 folded."""
    pipeline = _Pipeline(_model(tmp_path, ALLOWED))
    pipeline.send(list(ALLOWED) * 2)
    country = pipeline.country()
    assert country.unseen_category_ratio == 0.0
    assert country.expected_unseen_category_ratio == 0.0
    assert pipeline.folded() == 0
    # For drift they are still categories the reference never held: 95 % of the window.
    assert country.drift is not None and country.drift.drifted
    assert country.histogram is not None
    marks = dict(zip(country.histogram.labels, country.histogram.unseen, strict=True))
    assert {label for label, new in marks.items() if not new} == set(REFERENCE)


def test_a_burst_of_junk_long_gone_does_not_make_later_allowed_values_unseen(
    tmp_path: Path,
) -> None:
    """50 junk values took every new-category slot for good: the allowed GB and IT, absent
    from the reference, then counted as unseen (ratio 0.5) for the life of the process."""
    pipeline = _Pipeline(_model(tmp_path, (*REFERENCE, "GB", "IT")))
    pipeline.send([f"junk-{i}" for i in range(60)])
    assert pipeline.country().unseen_category_ratio == 1.0
    assert pipeline.folded() == 10  # 50 junk values have codes now, the other 10 folded
    pipeline.clock.now += 60  # the junk leaves the 10 s window
    pipeline.send(["DE", "FR", "GB", "IT"] * 10)
    assert pipeline.country().unseen_category_ratio == 0.0
    assert pipeline.folded() == 10
