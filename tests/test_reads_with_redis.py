"""Stream reads without redis-py's reply post-processing give the entries it would have."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import redis
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, RedisConfig
from exporter.config.keys import validate
from exporter.expose.live import LiveMetrics
from exporter.source.connect import make_client
from exporter.source.reader import StreamReader
from exporter.source.server import READ_BYTES, REPLY_BYTES, SIZE_SAMPLE
from exporter.source.streams import Entry
from tests.conftest import RedisServer, wait_for
from tests.helpers import make_config, sample, write_reference

STREAM = b"mlmon:{m}:predictions"


@dataclass
class Recorder:
    """A model's downstream that keeps every prediction entry it is handed, as plain dicts."""

    model: ModelConfig
    got: list[tuple[bytes, dict[bytes, bytes]]] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)  # entries per hand-over
    skipped: int = 0

    def ingest_predictions(self, entries: Sequence[Entry], count: bool = True) -> None:
        self.got.extend((entry_id, dict(fields)) for entry_id, fields in entries)
        self.reads.append(len(entries))

    def ingest_labels(self, entries: Sequence[Entry], count: bool = True) -> None:
        pass

    def count_skipped(self, kind: str, entries: int) -> None:
        self.skipped += entries


def reader_for(
    server: RedisServer, tmp: Path, read_count: int, entries: int = 95, pad: int = 0
) -> tuple[StreamReader, Recorder, list[tuple[bytes, dict[bytes, bytes]]]]:
    """A reader over model m with the given COUNT, its recorder, and a backlog of entries with
    one, two and three fields (`pad` bytes more each) added after the reader's cursor."""
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(1), 300))
    config = make_config(tmp, server.url)
    cfg = config.redis.model_copy(update={"read_count": read_count})
    recorder = Recorder(config.models[0])
    registry = CollectorRegistry()
    live = LiveMetrics(registry, config.models)
    reader = StreamReader(make_client(cfg), [recorder], cfg, live)
    reader.backfill()  # the stream is empty: reading starts at its beginning
    client = server.client()
    for i in range(entries):
        fields = {b"data": b'{"id": "r%d"}' % i + b" " * pad}
        fields.update({b"extra%d" % k: b"%d" % k for k in range(i % 3)})
        client.xadd(STREAM, fields)  # type: ignore[arg-type]
    expected = [(i, dict(f)) for i, f in client.xrange(STREAM)]
    return reader, recorder, expected


def read_until_caught_up(reader: StreamReader, recorder: Recorder, total: int) -> None:
    """XREAD until every entry arrived; a bounded number of reads, not a timed wait."""
    for _ in range(total + 2):
        if len(recorder.got) >= total:
            break
        reader.read_once()


def test_a_backlog_read_in_small_xreads_arrives_once_in_order_with_every_field(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    reader, recorder, expected = reader_for(redis_server, tmp_path, read_count=7)

    read_until_caught_up(reader, recorder, len(expected))

    assert recorder.got == expected  # what redis-py's own XRANGE parsing gives, field for field
    assert reader.last_ids[STREAM] == expected[-1][0]
    assert reader._gaps.counts()[STREAM] == len(expected)


def test_the_periodic_stream_check_reads_what_is_new_the_same_way(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    reader, recorder, expected = reader_for(redis_server, tmp_path, read_count=1000)

    reader.check_streams()  # its XREAD, then XINFO: the first asks for a few entries
    reader.check_streams()

    assert recorder.got == expected
    assert reader.last_ids[STREAM] == expected[-1][0]


def test_a_stream_restored_from_an_older_snapshot_is_not_read_twice_and_reading_goes_on(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A restart from an RDB snapshot, or a failover to a replica that lagged, leaves the
    stream's last ID below the cursor, holding entries read already. Reading them again from
    the start counted 120 records twice; waiting for the old cursor left new entries unread
    (a server whose clock is behind) until the clock caught up."""
    reader, recorder, old = reader_for(redis_server, tmp_path, 1000, entries=30)
    read_until_caught_up(reader, recorder, len(old))
    client = redis_server.client()
    client.delete(STREAM)
    for entry_id, fields in old[:20]:  # the snapshot: the first 20 entries, as they were
        client.xadd(STREAM, fields, id=entry_id)  # type: ignore[arg-type]
    behind = int(old[19][0].split(b"-")[0])
    reader.check_streams()  # finds the stream's last ID below the cursor, goes on from it
    assert reader.last_ids[STREAM] == old[19][0]
    for i in range(5):  # a clock still behind the old cursor
        client.xadd(STREAM, {b"data": b'{"id": "new%d"}' % i}, id=f"{behind + 1 + i}-0")
    new = [(i, dict(f)) for i, f in client.xrange(STREAM)][20:]
    read_until_caught_up(reader, recorder, len(old) + len(new))

    assert recorder.got == old + new  # nothing twice, the new entries at once
    assert recorder.skipped == 0


@pytest.mark.parametrize("read_count", [1, 1000])
def test_a_reader_that_has_caught_up_blocks_until_a_new_entry_and_reads_it(
    redis_server: RedisServer, tmp_path: Path, read_count: int
) -> None:
    reader, recorder, expected = reader_for(redis_server, tmp_path, read_count=read_count)
    read_until_caught_up(reader, recorder, len(expected))

    redis_server.client().xadd(STREAM, {b"data": b'{"id": "late"}'})
    reader.read_once()

    assert recorder.got[-1] == (reader.last_ids[STREAM], {b"data": b'{"id": "late"}'})
    assert len(recorder.got) == len(expected) + 1


def test_a_first_read_of_entries_of_unknown_size_asks_for_a_few_then_reads_stay_under_the_cap(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    pad = 200 * 1024  # entries of 200 kB: READ_BYTES holds 40 of them, read_count 4,000
    reader, recorder, expected = reader_for(redis_server, tmp_path, 4000, entries=60, pad=pad)

    read_until_caught_up(reader, recorder, len(expected))

    reads = [n for n in recorder.reads if n]  # the rebuild of the empty stream hands over none
    assert recorder.got == expected
    assert reads[0] == SIZE_SAMPLE
    assert max(reads[1:]) * pad <= READ_BYTES


def _lingering_reader(
    server: RedisServer, tmp: Path, linger: float, read_count: int = 4000
) -> tuple[StreamReader, Recorder]:
    """A reader (not started) over model m whose reads linger `linger` seconds once caught up."""
    reader, recorder, _ = reader_for(server, tmp, read_count, entries=0)
    reader._cfg = reader._cfg.model_copy(update={"linger_seconds": linger, "block_seconds": 0.05})
    return reader, recorder


def test_a_trickle_of_records_is_read_in_a_few_batches_not_one_read_each(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    reader, recorder = _lingering_reader(redis_server, tmp_path, linger=0.25)
    client = redis_server.client()
    reader.start()
    try:
        for i in range(100):  # a record every 10 ms: without the linger, a read each
            client.xadd(STREAM, {b"data": b'{"id": "t%d"}' % i})
            time.sleep(0.01)
        wait_for(lambda: len(recorder.got) == 100, 10, what="every trickled record")
    finally:
        reader.stop()
    assert [f[b"data"] for _, f in recorder.got] == [b'{"id": "t%d"}' % i for i in range(100)]
    assert len(recorder.reads) <= 20, recorder.reads  # a second of records, 0.25 s lingers


def test_a_backlog_is_read_page_after_page_without_lingering_between_them(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    reader, recorder = _lingering_reader(redis_server, tmp_path, linger=5.0, read_count=7)
    pipe = redis_server.client().pipeline(transaction=False)
    for i in range(95):
        pipe.xadd(STREAM, {b"data": b'{"id": "b%d"}' % i})
    pipe.execute()
    reader.start()
    try:
        # Full pages of 7 follow each other; a linger between them would take 5 s each.
        wait_for(lambda: len(recorder.got) == 95, 4.5, what="the whole backlog before a linger")
    finally:
        reader.stop()
    assert [n for n in recorder.reads if n] == [7] * 13 + [4]


@dataclass
class SizeRecorder(Recorder):
    """A Recorder that keeps each entry's ID and size only, so it holds no large entry."""

    sizes: list[tuple[bytes, int]] = field(default_factory=list)

    def ingest_predictions(self, entries: Sequence[Entry], count: bool = True) -> None:
        self.sizes.extend((i, sum(len(v) for v in fields.values())) for i, fields in entries)
        self.reads.append(len(entries))


@pytest.mark.parametrize("path", ["xread", "stream check"])
def test_large_entries_after_small_ones_are_read_holding_at_most_the_reply_cap(
    redis_server: RedisServer, tmp_path: Path, path: str
) -> None:
    """Read sizes were learned from replies already read: after 2,000 small entries COUNT was
    4,000, and a burst of 2 MB entries came back whole in one reply (in the daemon, one small
    record then 80 of 5 MB took RSS from 140 to 521 MB). A reply now stops at REPLY_BYTES."""
    reader, recorder, small = reader_for(redis_server, tmp_path, 4000, entries=2000)
    sizes = SizeRecorder(recorder.model)
    reader._routes = {key: (sizes, kind) for key, (_, kind) in reader._routes.items()}
    for _ in range(len(small)):  # a few reads of up to 4,000
        if len(sizes.sizes) == len(small):
            break
        reader.read_once()
    assert reader._size.count(4000) == 4000  # small entries: full pages
    big, burst = 2 * 1024 * 1024, 40  # 80 MB, more than twice the cap
    pipe = redis_server.client().pipeline(transaction=False)
    pipe.xadd(STREAM, {b"data": b'{"id": "small"}'})
    for i in range(burst):
        pipe.xadd(STREAM, {b"data": b'{"id": "big%d"}' % i + b" " * big})
    added = pipe.execute()

    tracemalloc.start()
    try:
        for _ in range(4 * burst):  # a bounded number of reads, not a timed wait
            if len(sizes.sizes) >= len(small) + 1 + burst:
                break
            reader.check_streams() if path == "stream check" else reader.read_once()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [i for i, _ in sizes.sizes[len(small) :]] == added  # every entry once, in order
    assert peak < REPLY_BYTES + 2 * big, f"{peak / 2**20:.0f} MiB held reading the burst"


def test_a_huge_first_entry_does_not_make_every_stream_check_drop_its_reply(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """XINFO STREAM carries the stream's first entry, whatever COUNT asks: with one of 34 MiB
    each check dropped three replies and reconnected, and throttled the reads after it."""
    reader, recorder, _ = reader_for(redis_server, tmp_path, 1000, entries=0)
    client = redis_server.client()
    client.xadd(STREAM, {b"data": b'{"id": "huge"}' + b" " * (34 * 1024 * 1024)})
    for i in range(10):
        client.xadd(STREAM, {b"data": b'{"id": "s%d"}' % i})
    read_until_caught_up(reader, recorder, 11)
    dropped = reader._size.dropped  # reading the huge entry itself may drop a reply or two
    for round_ in range(3):
        client.xadd(STREAM, {b"data": b'{"id": "t%d"}' % round_})
        reader.check_streams()
    assert len(recorder.got) == 14
    assert reader._size.dropped == dropped


def test_a_reader_with_no_stream_counts_redis_up_only_when_it_answers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A shard owning no model sent Redis nothing: /readyz said ready and mlmon_redis_up 1
    with nothing listening, and "redis unreachable" for its first second with Redis up."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 50))
    config = make_config(tmp_path, redis_server.url)
    fast = config.redis.model_copy(update={"block_seconds": 0.01})
    up = StreamReader(make_client(fast), [], fast, LiveMetrics(CollectorRegistry(), []))
    up.read_once()
    assert up.redis_up
    dead = fast.model_copy(update={"url": "redis://127.0.0.1:1/0"})
    down = StreamReader(make_client(dead), [], dead, LiveMetrics(CollectorRegistry(), []))
    with pytest.raises(redis.ConnectionError):
        down.read_once()
    assert not down.redis_up


def test_idle_reads_at_the_longest_block_a_socket_timeout_allows_keep_redis_up(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """redis-py times XREAD BLOCK out by socket_timeout: with block at socket_timeout an idle,
    healthy Redis read as down in 17 of 18 scrapes; the config's margin keeps every read."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 50))
    config = make_config(tmp_path, redis_server.url)
    keys = {"url": redis_server.url, "socket_timeout": "1s", "block": "500ms", "linger": None}
    cfg = validate(RedisConfig, keys, base_dir=str(tmp_path))
    live = LiveMetrics(CollectorRegistry(), config.models)
    reader = StreamReader(make_client(cfg), [Recorder(config.models[0])], cfg, live)
    reader.backfill()
    for _ in range(6):  # idle: each read waits out its whole block
        started = time.monotonic()
        reader.read_once()
        assert reader.redis_up
        assert time.monotonic() - started < cfg.socket_timeout_seconds
