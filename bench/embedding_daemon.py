"""An embedding feature through the daemon: evaluation time and memory at dimension 384.

    python -m bench.embedding_daemon [--quick]

Issue #21's case: a 384-dimension embedding feature with a 5,000-record window evaluates in
under 2 s, and its memory is as docs/statistics.md says. Per method and repetition, two
exporters run as users run them, each fed by a separate producer process over a real
redis-server: both serve two models fed 5,000 records each, `plain` (one numeric feature) and
`emb`, which in the second exporter has the embedding too (and gets vectors). Times are the
daemon's own mlmon_evaluation_duration_seconds of `emb` once its window holds 5,000 records,
against `plain` in the same process; memory is the RSS the second exporter holds above the
first,
against the documented bytes (the window's float32 ring, 4·d·5,000, plus what the fitted
method keeps).
"""

from __future__ import annotations

import multiprocessing as mp
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import redis

from bench._daemon import Daemon
from bench.common import free_port, machine, rss_mb, start_redis
from exporter.stats.embedding import EMBEDDING_METHODS, make_embedding_method

DIM, WINDOW, REFERENCE, BATCH = 384, 5_000, 5_000, 50
BUDGET_S = 2.0
CENTRES = np.random.default_rng(7).normal(0.0, 0.5, (4, DIM))
WEIGHTS = (0.4, 0.2, 0.2, 0.2)
DURATION = re.compile(r'^mlmon_evaluation_duration_seconds\{model="(\w+)"\} (\S+)$', re.M)
SAMPLES = re.compile(r'^mlmon_window_samples\{model="(\w+)"\} (\S+)$', re.M)


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """n rows of a 4-cluster mixture, rounded to float32 precision as a model would send."""
    clusters = rng.choice(len(WEIGHTS), n, p=WEIGHTS)
    return (CENTRES[clusters] + rng.standard_normal((n, DIM))).astype(np.float32)


def _write_reference(path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors, xs = _vectors(rng, REFERENCE), rng.normal(size=REFERENCE)
    with path.open("wb") as fh:
        for x, v in zip(xs, vectors, strict=True):
            row = {"x": float(x), "text": v.tolist(), "prediction": float(x), "label": float(x)}
            fh.write(orjson.dumps(row) + b"\n")


def _model(name: str, method: str | None) -> str:
    embedding = (
        f"\n      - {{name: text, type: embedding, dimension: {DIM}, method: {method}}}"
        if method
        else ""
    )
    return f"""
  - name: {name}
    task: regression
    reference: {{file: ref.jsonl}}
    window: {{duration: 1h, max_samples: {WINDOW}}}
    schedule: {{interval: 3s}}
    max_entry_bytes: 1048576
    features:
      - {{name: x, type: numeric}}{embedding}
"""


def _produce(port: int, stream: str, with_vectors: bool, seed: int) -> None:
    """The producer process: WINDOW records in batch entries of BATCH."""
    rng = np.random.default_rng(seed)
    client = redis.Redis(port=port, protocol=2)
    vectors, xs = _vectors(rng, WINDOW), rng.normal(size=WINDOW)
    pipe = client.pipeline(transaction=False)
    for start in range(0, WINDOW, BATCH):
        rows = []
        for i in range(start, start + BATCH):
            features: dict[str, object] = {"x": float(xs[i])}
            if with_vectors:
                features["text"] = vectors[i].tolist()
            rows.append({"id": f"{seed}-{i}", "features": features, "prediction": float(xs[i])})
        pipe.xadd(stream, {"batch": orjson.dumps(rows)})
    pipe.execute()


def _durations(daemon: Daemon, names: list[str], evaluations: int) -> dict[str, list[float]]:
    """Each model's evaluation durations over the next evaluations with a full window."""
    seen: dict[str, list[float]] = {n: [] for n in names}
    last: dict[str, str] = {}
    deadline = time.monotonic() + 300
    while min(len(v) for v in seen.values()) < evaluations:
        if time.monotonic() > deadline:
            raise SystemExit("the exporter did not evaluate full windows within 300 s")
        body = daemon.get("/metrics")[1].decode()
        full = {m for m, n in SAMPLES.findall(body) if float(n) == WINDOW}
        for model, seconds in DURATION.findall(body):
            if model in full and seconds != last.get(model):
                last[model] = seconds
                seen[model].append(float(seconds))
        time.sleep(0.5)
    return seen


def _one(method: str | None, seed: int) -> tuple[float, float, dict[str, float]]:
    """(RSS ready, RSS after the feed, median seconds per model) of one exporter."""
    names = ["plain", "emb"]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_redis(port, tmp)
        try:
            _write_reference(Path(tmp) / "ref.jsonl")
            config = Path(tmp) / "config.yaml"
            config.write_text(
                f"redis: {{url: 'redis://127.0.0.1:{port}/0'}}\nmodels:"
                + "".join(_model(n, method if n == "emb" else None) for n in names)
            )
            daemon = Daemon.start(config, free_port(), Path(tmp) / "exporter.log")
            try:
                daemon.wait_evaluated(len(names))
                ready = rss_mb(daemon.proc.pid)
                feeds = [
                    mp.Process(
                        target=_produce,
                        args=(
                            port,
                            f"mlmon:{{{n}}}:predictions",
                            bool(method and n == "emb"),
                            seed,
                        ),
                    )
                    for n in names
                ]
                for feed in feeds:
                    feed.start()
                for feed in feeds:
                    feed.join()
                times = _durations(daemon, names, 3)
                medians = {n: statistics.median(t) for n, t in times.items()}
                return ready, rss_mb(daemon.proc.pid), medians
            finally:
                daemon.stop()
        finally:
            server.terminate()
            server.wait(30)


def _documented_mb(method: str) -> float:
    """The window's float32 ring plus what the fitted method holds (docs/statistics.md)."""
    sample = np.random.default_rng(0).normal(size=(REFERENCE, DIM))
    held = make_embedding_method(method).fit(sample).nbytes
    return (4 * DIM * WINDOW + held) / 2**20


def main(quick: bool = False) -> None:
    """Print the table: seconds per evaluation and memory held, per method."""
    runs = 1 if quick else 3
    print(
        f"## An embedding feature through the daemon ({time.strftime('%Y-%m-%d')}; {machine()})"
        f"\n\nDimension {DIM}, {WINDOW:,}-record window, {REFERENCE:,}-row JSON Lines reference;"
        f" median of {runs} exporters per method, each the median of 3 evaluations.\n\n"
        "| method | evaluation s | ÷ 2 s budget | ÷ `plain` in the same daemon "
        "| RSS above the same without the embedding: ready, MB | fed, MB | documented, MB |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    for method in EMBEDDING_METHODS:
        seconds, ratios, at_ready, extra = [], [], [], []
        for seed in range(runs):
            base_ready, base_rss, _ = _one(None, seed)
            ready, rss, times = _one(method, seed)
            seconds.append(times["emb"])
            ratios.append(times["emb"] / times["plain"])
            at_ready.append(ready - base_ready)
            extra.append(rss - base_rss)
        median = statistics.median(seconds)
        print(
            f"| `{method}` | {median:.3f} | {median / BUDGET_S:.2f} "
            f"| {statistics.median(ratios):.0f} | {statistics.median(at_ready):.1f} "
            f"| {statistics.median(extra):.1f} "
            f"| {_documented_mb(method):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
