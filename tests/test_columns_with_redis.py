"""`columns` entries through the daemon as a process, read from a real redis-server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import RedisServer, wait_for
from tests.test_hostile_with_redis import STREAM, _daemon, _promtool_accepts, _record
from tests.test_lifecycle import _sample

pytestmark = pytest.mark.integration

WINDOW = 'mlmon_window_samples{model="clf"}'


def _columns(records: list[dict[str, Any]]) -> bytes:
    keys = [k for k in records[0] if k != "features"]
    body: dict[str, Any] = {k: [r[k] for r in records] for k in keys}
    body["features"] = {f: [r["features"][f] for r in records] for f in records[0]["features"]}
    return orjson.dumps(body)


def test_columns_entries_fill_the_window_count_their_bad_records_and_survive_a_restart(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    invalid = 'mlmon_records_invalid_total{{model="clf",reason="{}"}}'
    with _daemon(tmp_path, redis_server) as (_, port, _):
        for start in range(0, 300, 100):
            client.xadd(
                STREAM, {"columns": _columns([_record(i) for i in range(start, start + 100)])}
            )
        nan_one = _columns([_record(i) for i in range(300, 310)]).replace(b"0.0,", b"NaN,", 1)
        client.xadd(STREAM, {"columns": nan_one})
        uneven = orjson.loads(_columns([_record(i) for i in range(310, 315)]))
        uneven["prediction"].pop()
        client.xadd(STREAM, {"columns": orjson.dumps(uneven)})
        wait_for(lambda: _sample(port, WINDOW) == 309, 30, 0.2, "the columns read")
        assert _sample(port, invalid.format("non_finite")) == 1
        assert _sample(port, invalid.format("bad_batch")) == 1
        _promtool_accepts(port)
    with _daemon(tmp_path, redis_server) as (_, port, _):
        wait_for(lambda: _sample(port, WINDOW) == 309, 30, 0.2, "the window rebuilt")
