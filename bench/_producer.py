"""The producer side of the ingest benches: realistic records, written as a model server does."""

from __future__ import annotations

import secrets
import time
from typing import Any

import numpy as np
import orjson
import redis

from bench._daemon import CATEGORIES, NUMERIC


def records(rng: np.random.Generator, n: int, prefix: str) -> list[dict[str, Any]]:
    """Realistic records: full-precision floats, a score, a unique id, status, latency, ts."""
    numeric = rng.normal(size=(n, len(NUMERIC))).tolist()
    cats = [rng.choice(values, n).tolist() for values in CATEGORIES.values()]
    scores, latency = rng.random(n).tolist(), rng.gamma(2.0, 6.0, n).tolist()
    ts, errors = (time.time() - 5 * rng.random(n)).tolist(), (rng.random(n) < 0.01).tolist()
    out = []
    for i in range(n):
        features: dict[str, Any] = dict(zip(NUMERIC, numeric[i], strict=True))
        features.update(zip(CATEGORIES, (c[i] for c in cats), strict=True))
        out.append(
            {
                "id": f"{prefix}-{i:08d}",
                "ts": ts[i],
                "version": "v3",
                "features": features,
                "prediction": int(scores[i] > 0.5),
                "scores": scores[i],
                "latency_ms": latency[i],
                "status": "error" if errors[i] else "ok",
            }
        )
    return out


def columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Records as a `columns` entry's object: an array per key, one per feature."""
    out: dict[str, Any] = {key: [r[key] for r in rows] for key in rows[0] if key != "features"}
    out["features"] = {name: [r["features"][name] for r in rows] for name in rows[0]["features"]}
    return out


def produce(
    port: int, streams: list[str], n: int, batch: int, seed: int, layout: str = "batch"
) -> None:
    """The producer process: n records split evenly over the streams, pipelined XADD."""
    rng = np.random.default_rng(seed)
    client = redis.Redis(port=port, protocol=2)
    each = n // len(streams)
    for stream in streams:
        rows = records(rng, each, secrets.token_hex(8))
        pipe = client.pipeline(transaction=False)
        for start in range(0, each, batch):
            if batch == 1:
                pipe.xadd(stream, {"data": orjson.dumps(rows[start])})
            elif layout == "columns":
                pipe.xadd(stream, {"columns": orjson.dumps(columns(rows[start : start + batch]))})
            else:
                pipe.xadd(stream, {"batch": orjson.dumps(rows[start : start + batch])})
            if len(pipe) >= 1000:
                pipe.execute()
        pipe.execute()
