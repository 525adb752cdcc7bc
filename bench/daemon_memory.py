"""Memory through the daemon: the RSS of an exporter whose models are fed predictions that
never get a label, so every one waits in the label join until the horizon or the cap.

    python -m bench.daemon_memory [--quick]

Issue #18's case: ten models with 1,000-sample windows, 100,000 unlabelled predictions each,
under 250 MB. A separate producer process writes batch entries of 100; the exporter is timed
until its own mlmon_records_read_total says it read them all, then its VmRSS is read. The
baseline is the raw size of what it must hold: per waiting prediction its id's UTF-8 bytes
plus time, prediction and score (8 bytes each), and the windows' columns.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench._daemon import CATEGORIES, NUMERIC, Daemon, write_config
from bench._producer import produce
from bench.common import free_port, machine, rss_mb, start_redis

MODELS, PER_MODEL, WINDOW, TARGET_MB = 10, 100_000, 1_000, 250.0
ID_BYTES = len("0123456789abcdef-00000000")  # the producer's ids


def _one(per_model: int) -> tuple[float, float, float]:
    """(RSS ready, RSS after, seconds to read) for one exporter."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_redis(port, tmp)
        try:
            client = redis.Redis(port=port)
            deadline = time.monotonic() + 30
            while not _pings(client):
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            names = [f"m{i}" for i in range(MODELS)]
            config = write_config(Path(tmp), port, names)
            config.write_text(
                config.read_text().replace("max_samples: 10000", f"max_samples: {WINDOW}")
            )
            daemon = Daemon.start(config, free_port(), Path(tmp) / "exporter.log")
            try:
                daemon.wait_evaluated(MODELS)
                ready = rss_mb(daemon.proc.pid)
                streams = [f"mlmon:{{{n}}}:predictions" for n in names]
                started = time.monotonic()
                producer = mp.Process(
                    target=produce, args=(port, streams, MODELS * per_model, 100, 7)
                )
                producer.start()
                producer.join()
                deadline = time.monotonic() + 600
                while daemon.records_read() < MODELS * per_model:
                    if time.monotonic() > deadline:
                        raise SystemExit("the exporter did not read every record in 600 s")
                    time.sleep(1.0)
                return ready, rss_mb(daemon.proc.pid), time.monotonic() - started
            finally:
                daemon.stop()
        finally:
            server.terminate()
            server.wait(30)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def main(quick: bool = False) -> None:
    """Print the table: RSS against the target and against the raw bytes held."""
    per_model, runs = (10_000, 1) if quick else (PER_MODEL, 3)
    results = [_one(per_model) for _ in range(runs)]
    ready = statistics.median(r[0] for r in results)
    after = statistics.median(r[1] for r in results)
    waiting = MODELS * per_model * (ID_BYTES + 24) / 2**20
    verdict = "met" if after < TARGET_MB else "missed"
    windows = MODELS * WINDOW * (8 * (len(NUMERIC) + 3) + 4 * len(CATEGORIES)) / 2**20
    print(
        f"## Memory through the daemon ({time.strftime('%Y-%m-%d')}; {machine()})\n\n"
        f"{MODELS} models, {WINDOW:,}-sample windows, {per_model:,} unlabelled predictions "
        f"each in batch entries of 100; median of {runs}.\n\n"
        "| RSS ready, MB | RSS after, MB | Growth, MB | Raw bytes held, MB | Growth / raw "
        f"| Target (RSS after < {TARGET_MB:.0f} MB) |\n|---:|---:|---:|---:|---:|---|\n"
        f"| {ready:.0f} | {after:.0f} | {after - ready:.0f} | {waiting + windows:.1f} "
        f"| {(after - ready) / (waiting + windows):.2f} | {verdict} |"
    )


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
