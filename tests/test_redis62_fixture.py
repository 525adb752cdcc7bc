"""The redis62_server fixture gives Redis 6.2, the oldest server the exporter supports."""

from __future__ import annotations

from tests.conftest import RedisServer


def test_the_redis62_server_reports_6_2_and_its_stream_info_has_no_entries_added(
    redis62_server: RedisServer,
) -> None:
    client = redis62_server.client()
    assert str(client.info("server")["redis_version"]).startswith("6.2.")
    client.xadd("mlmon:{m}:predictions", {"data": b"{}"})
    info = client.xinfo_stream("mlmon:{m}:predictions")
    assert info["length"] == 1
    assert "entries-added" not in info
