"""Hostile input against the daemon as a process, fed through a real redis-server."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
import pytest

from exporter.reference.load import store_in_redis
from tests.conftest import RedisServer, free_port, require_tool, settles_at, wait_for
from tests.helpers import xadd_all
from tests.test_lifecycle import ROOT, _get, _sample, exporter

pytestmark = pytest.mark.integration

STREAM = "mlmon:{clf}:predictions"


def _reference(rng: np.random.Generator, rows: int = 1000) -> bytes:
    lines = ["x1,c1,prediction,label,score"]
    for _ in range(rows):
        score = float(rng.uniform())
        lines.append(
            f"{rng.normal()!r},{rng.choice(['a', 'b', 'c'])},{int(score > 0.5)},"
            f"{int(rng.uniform() < score)},{score!r}"
        )
    return ("\n".join(lines) + "\n").encode()


def _config(tmp: Path, redis_url: str, port: int, reference: str, every: str = "1s") -> Path:
    path = tmp / "config.yaml"
    path.write_text(
        f"redis: {{url: '{redis_url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{port}'}}\n"
        "models:\n  - name: clf\n    task: binary_classification\n    positive_class: '1'\n"
        f"    reference: {reference}\n    schedule: {{interval: {every}}}\n    min_samples: 20\n"
        "    features: [{name: x1, type: numeric}, {name: c1, type: categorical}]\n"
    )
    return path


@contextmanager
def _daemon(
    tmp: Path, redis: RedisServer, redis_key: bool = False
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    rng = np.random.default_rng(4)
    port = free_port()
    if redis_key:
        store_in_redis(redis.client(), "mlmon:{clf}:reference", _reference(rng), "csv")
        path = _config(tmp, redis.url, port, "{redis_key: 'mlmon:{clf}:reference'}")
    else:
        (tmp / "clf.csv").write_bytes(_reference(rng))
        path = _config(tmp, redis.url, port, "{file: clf.csv}")
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        yield proc, port, path


def _record(i: int, **extra: object) -> dict[str, object]:
    return {
        "id": f"r{i}",
        "features": {"x1": 0.1 * (i % 7), "c1": "abc"[i % 3]},
        "prediction": i % 2,
        "scores": 0.25 + 0.5 * (i % 2),
        **extra,
    }


def _promtool_accepts(port: int) -> None:
    status, body = _get(port, "/metrics")
    assert status == 200
    check = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "error" not in (check.stdout + check.stderr).lower(), check.stdout + check.stderr


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_lone_surrogates_are_counted_and_metrics_stay_valid_across_a_restart(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    invalid = 'mlmon_records_invalid_total{model="clf",reason="invalid_unicode"}'
    bad = [
        b'{"id":"s1","features":{"x1":1.0,"c1":"a"},"prediction":1,"version":"v\\ud800"}',
        b'{"id":"s2","features":{"x1":1.0,"c1":"a"},"prediction":"\\udfff"}',
        b'{"id":"s3","features":{"x1":1.0,"c1":"\\ud800x"},"prediction":0}',
    ]
    with _daemon(tmp_path, redis_server) as (_, port, _):
        xadd_all(client, STREAM, [orjson.dumps(_record(i)) for i in range(50)] + bad)
        settles_at(lambda: _sample(port, invalid), 3.0, interval=0.2, what="the rejections")
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="clf"}') == 50,
            30,
            0.2,
            "the valid records evaluated",
        )
        _promtool_accepts(port)
    with _daemon(tmp_path, redis_server) as (_, port, _):  # the bad entries are replayed
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="clf"}') == 50,
            30,
            0.2,
            "the window rebuilt",
        )
        _promtool_accepts(port)
        status, _ = _get(port, "/models/clf")
        assert status == 200


def test_huge_versions_leave_metrics_small_and_huge_score_objects_leave_memory_flat(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    with _daemon(tmp_path, redis_server) as (proc, port, _):
        xadd_all(
            client,
            STREAM,
            [orjson.dumps(_record(i, version=f"{i:02d}" + "v" * 510_000)) for i in range(20)],
        )
        read = 'mlmon_records_read_total{kind="predictions",model="clf"}'
        settles_at(lambda: _sample(port, read), 20.0, interval=0.2, what="the huge versions")
        assert len(_get(port, "/metrics")[1].encode()) < 1_000_000
        before = _rss_kib(proc.pid)
        scores = {f"class-{k}": 0.0 for k in range(5000)}
        for start in range(0, 2000, 200):
            xadd_all(
                client,
                STREAM,
                [orjson.dumps(_record(i, scores=scores)) for i in range(start, start + 200)],
            )
        too_many = 'mlmon_records_invalid_total{model="clf",reason="too_many_scores"}'
        settles_at(
            lambda: _sample(port, too_many),
            2000.0,
            timeout=60,
            interval=0.2,
            what="the 5,000-key scores rejected",
        )
        assert _rss_kib(proc.pid) - before < 50 * 1024


def test_entries_trimmed_while_the_exporter_is_paused_are_counted_after_it_resumes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    skipped = 'mlmon_records_skipped_total{kind="predictions",model="clf"}'
    with _daemon(tmp_path, redis_server) as (proc, port, _):
        xadd_all(client, STREAM, [orjson.dumps(_record(i)) for i in range(30)])
        settles_at(
            lambda: _sample(port, 'mlmon_records_read_total{kind="predictions",model="clf"}'),
            30.0,
            interval=0.2,
            what="30 read",
        )
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            last = client.xrevrange(STREAM, count=1)[0][0]
            xadd_all(client, STREAM, [orjson.dumps(_record(i)) for i in range(30, 130)])
            client.xtrim(
                STREAM, minid=client.xrevrange(STREAM, count=1)[0][0] + b"1", approximate=False
            )  # the 100 new entries, and all before, are gone
            assert client.xlen(STREAM) == 0 and last
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        read = 'mlmon_records_read_total{kind="predictions",model="clf"}'
        # A reader blocked in XREAD when the first entry came is handed that one entry before
        # it pauses, so it reads it after SIGCONT: every entry is either read or counted.
        settles_at(
            lambda: (_sample(port, read) or 0) + (_sample(port, skipped) or 0),
            130.0,
            timeout=30,
            interval=0.2,
            what="every entry read or counted as skipped",
        )
        assert (_sample(port, skipped) or 0) >= 99


def test_a_flushed_reference_key_keeps_the_fitted_copy_in_use_and_says_so(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    with _daemon(tmp_path, redis_server, redis_key=True) as (_, port, _):
        xadd_all(client, STREAM, [orjson.dumps(_record(i)) for i in range(40)])
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="clf"}') == 40,
            30,
            0.2,
            "evaluated with the reference",
        )
        client.delete("mlmon:{clf}:reference")
        wait_for(
            lambda: _sample(port, 'mlmon_reference_missing{model="clf"}') == 1,
            30,
            0.2,
            "the missing key noticed",
        )
        assert _sample(port, 'mlmon_reference_lost_total{model="clf"}') == 1
        stamp = 'mlmon_evaluation_last_success_timestamp_seconds{model="clf"}'
        seen = _sample(port, stamp) or 0.0
        wait_for(lambda: (_sample(port, stamp) or 0.0) > seen + 1, 30, 0.2, "evaluations going on")
        assert _sample(port, 'mlmon_evaluation_failures_total{model="clf"}') == 0
        status, detail = _get(port, "/readyz")
        assert status == 200 and "reference key missing" in detail
        assert "is missing in Redis" in _get(port, "/models/clf")[1]
        store_in_redis(client, "mlmon:{clf}:reference", _reference(np.random.default_rng(5)), "csv")
        wait_for(
            lambda: _sample(port, 'mlmon_reference_missing{model="clf"}') == 0,
            30,
            0.2,
            "the key back",
        )


def test_a_reference_key_missing_at_start_up_is_flagged_and_fitted_soon_after_it_is_loaded(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    key = "{redis_key: 'mlmon:{clf}:reference'}"
    path = _config(tmp_path, redis_server.url, port, key, every="1h")  # not the next tick
    missing = 'mlmon_reference_missing{model="clf"}'
    with exporter(path):
        wait_for(lambda: _sample(port, missing) == 1, 30, 0.2, "the missing key flagged")
        status, detail = _get(port, "/readyz")
        assert status == 503 and "reference not loaded: clf" in detail
        assert _sample(port, 'mlmon_reference_lost_total{model="clf"}') == 0  # never fitted
        reference = _reference(np.random.default_rng(5))
        store_in_redis(redis_server.client(), "mlmon:{clf}:reference", reference, "csv")
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        assert _sample(port, missing) == 0
        assert _sample(port, 'mlmon_evaluation_last_success_timestamp_seconds{model="clf"}')


def test_a_redis_down_at_start_up_delays_the_first_evaluation_only_until_it_answers(
    tmp_path: Path,
) -> None:
    """Also: records written while the exporter waited for Redis went into its window through
    the start-up rebuild, and into no counter (read_total 0 for 40)."""
    redis = RedisServer(free_port(), tmp_path)  # started only once the exporter gave up waiting
    port = free_port()
    path = _config(tmp_path, redis.url, port, "{file: clf.csv}", every="1h")
    (tmp_path / "clf.csv").write_bytes(_reference(np.random.default_rng(4)))
    log = tmp_path / "exporter.log"
    with (
        log.open("w") as err,
        subprocess.Popen(
            [sys.executable, "-m", "exporter", f"--config.file={path}"], cwd=ROOT, stderr=err
        ) as proc,
    ):
        try:
            wait_for(lambda: "windows not rebuilt yet" in log.read_text(), 60, 0.2, "start-up")
            early = RedisServer(free_port(), tmp_path)  # written before it first connects
            early.start()
            xadd_all(early.client(), STREAM, [orjson.dumps(_record(i)) for i in range(40)])
            early.shutdown_saving()
            redis.start()  # with those records
            stamp = 'mlmon_evaluation_last_success_timestamp_seconds{model="clf"}'
            wait_for(lambda: _sample(port, stamp), 30, 0.2, "the first evaluation")
            assert _sample(port, 'mlmon_window_samples{model="clf"}') == 40
            read = 'mlmon_records_read_total{kind="predictions",model="clf"}'
            assert _sample(port, read) == 40
        finally:
            proc.kill()
            redis.stop()


def test_a_restart_over_a_million_batched_records_is_quick_and_bounded_in_memory(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    batch = orjson.dumps([{"features": {"x1": 0.5, "c1": "a"}, "prediction": 1}] * 5000)
    pipe = client.pipeline(transaction=False)
    for _ in range(200):
        pipe.xadd(STREAM, {"batch": batch})
    pipe.execute()
    with _daemon(tmp_path, redis_server) as (proc, port, _):  # ready within its deadline
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="clf"}') == 10_000,
            30,
            0.2,
            "a full window from the newest entries",
        )
        steady = _rss_kib(proc.pid)
        peak = _rss_kib(proc.pid, "VmHWM")
    assert peak < 2 * steady, f"peak {peak} KiB against steady {steady} KiB"
    # Quick whatever the machine's load: the rebuild read the newest entries only, the 40
    # batches that fill labels.max_pending (200,000: predictions that may still get their
    # label, more than the window's 10,000), and left the other 160 unread.
    assert proc.stderr is not None
    logs = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    rebuilt = [e for e in logs if e["msg"] == "window rebuilt from redis" and e["stream"] == STREAM]
    assert [(e["entries"], e["records"], e["older_entries_unread"]) for e in rebuilt] == [
        (40, 200_000, True)
    ], rebuilt


def test_a_reference_key_of_an_unknown_format_at_start_up_waits_for_a_usable_one(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A hash written by hand with format "ndjson" hit an assert: the daemon died at start-up."""
    port = free_port()
    client = redis_server.client()
    content = _reference(np.random.default_rng(5))
    fields = {"format": "ndjson", "content": gzip.compress(content), "sha256": "0" * 64}
    client.hset("mlmon:{clf}:reference", mapping=fields)  # type: ignore[arg-type]
    path = _config(tmp_path, redis_server.url, port, "{redis_key: 'mlmon:{clf}:reference'}")
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 503, 30, 0.2, "serving")
        wait_for(lambda: "reference not loaded: clf" in _get(port, "/readyz")[1], 30, 0.2)
        assert proc.poll() is None
        store_in_redis(client, "mlmon:{clf}:reference", content, "csv")
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
