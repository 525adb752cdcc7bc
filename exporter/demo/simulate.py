"""Two simulated models: a fraud classifier that starts drifting, and a steady ETA regressor."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

COUNTRIES = ("DE", "FR", "US", "GB")
CHANNELS = ("web", "app", "pos")
BASE_MIX = (0.4, 0.3, 0.2, 0.1)
DRIFT_MIX = (0.15, 0.15, 0.2, 0.5)
# The merchant description's text embedding: 4 kinds of merchant, each a cluster around its
# centre. Drift moves 20 points of traffic from the first kind to the last.
EMBEDDING_DIMENSION = 16
MERCHANT_CENTRES = np.random.default_rng(11).normal(0.0, 1.0, (4, EMBEDDING_DIMENSION))
MERCHANT_MIX = (0.4, 0.3, 0.2, 0.1)
MERCHANT_DRIFT_MIX = (0.2, 0.3, 0.2, 0.3)


@dataclass(frozen=True)
class FraudSim:
    """Transactions whose amounts and countries shift once `drifting` is set; so do the ages
    of the app channel alone, by 0.2 sd: past the threshold within that segment, a third of
    that over all traffic (`segments: [{feature: channel}]`). The merchant embedding's mix of
    merchant kinds shifts too (`type: embedding`)."""

    def row(self, rng: np.random.Generator, drifting: bool) -> dict[str, Any]:
        """One transaction as the wire format has it (`scores`), plus its true label."""
        amount = float(rng.lognormal(4.0 + (0.8 if drifting else 0.0), 0.6))
        channel = str(rng.choice(CHANNELS))
        age = float(rng.normal(40 + (2.4 if drifting and channel == "app" else 0), 12))
        country = str(rng.choice(COUNTRIES, p=DRIFT_MIX if drifting else BASE_MIX))
        risk = 0.02 * (amount / 55.0) + (0.15 if country == "GB" else 0.0)
        label = int(rng.random() < min(risk, 0.9))
        score = float(np.clip(risk + rng.normal(0, 0.05), 0.0, 1.0))
        kind = rng.choice(4, p=MERCHANT_DRIFT_MIX if drifting else MERCHANT_MIX)
        merchant = MERCHANT_CENTRES[kind] + rng.normal(0.0, 0.5, EMBEDDING_DIMENSION)
        return {
            "features": {
                "amount": round(amount, 2),
                "age": round(age, 1),
                "country": country,
                "channel": channel,
                "merchant_text": [round(float(v), 3) for v in merchant],
            },
            "prediction": int(score >= 0.08),
            "scores": round(score, 4),
            "label": label,
        }


@dataclass(frozen=True)
class EtaSim:
    """Delivery-time estimates that stay on their reference distribution."""

    def row(self, rng: np.random.Generator, drifting: bool) -> dict[str, Any]:
        """One delivery with the estimate and the true duration in minutes."""
        distance = float(rng.gamma(2.0, 2.5))
        hour = int(rng.integers(0, 24))
        vehicle = str(rng.choice(("bike", "car", "van"), p=(0.5, 0.35, 0.15)))
        truth = 8 + 4.5 * distance + (6 if 17 <= hour <= 19 else 0) + rng.normal(0, 3)
        estimate = 8 + 4.5 * distance + 2 * math.sin(hour) + rng.normal(0, 2)
        return {
            "features": {"distance_km": round(distance, 3), "hour": hour, "vehicle": vehicle},
            "prediction": round(float(estimate), 2),
            "label": round(float(truth), 2),
        }


SIMS: dict[str, FraudSim | EtaSim] = {"fraud": FraudSim(), "eta": EtaSim()}


def reference_csv(name: str, rows: int, seed: int) -> bytes:
    """A reference data set drawn from the model's undrifted distribution, as CSV."""
    rng = np.random.default_rng(seed)
    sample = [SIMS[name].row(rng, drifting=False) for _ in range(rows)]
    columns = [*sample[0]["features"], "prediction", "label"]
    if "scores" in sample[0]:
        columns.append("score")  # records say `scores`; the reference column is `score`
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for r in sample:
        features = {
            k: json.dumps(v) if isinstance(v, list) else v for k, v in r["features"].items()
        }
        writer.writerow(
            {
                **features,
                "prediction": r["prediction"],
                "label": r["label"],
                **({"score": r["scores"]} if "scores" in r else {}),
            }
        )
    return out.getvalue().encode()
