"""Redis Cluster and sharded replicas: every model on exactly one replica, values restored."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.cluster import RedisCluster

from exporter.daemon.shard import Shard, owner
from exporter.source.nodes import IdlePause
from tests.conftest import RedisServer, require_tool, wait_for
from tests.helpers import make_config, records, running, sample, value, write_reference

MODELS = tuple(f"model{i}" for i in range(10))


class ClusterNode(RedisServer):
    """A redis-server started in cluster mode."""

    def start(self) -> None:
        binary = require_tool("redis-server")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{self.port}.conf",
                "--protected-mode",
                "no",
                "--cluster-require-full-coverage",  # the slots of a dead master only fail
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.client().ping(), 15, what=f"cluster node on port {self.port}")


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = random.randint(20000, 55000)
        if all(_free(p) for p in (port, port + 10000)):
            return port
    raise AssertionError("no free port pair for a cluster node")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _state(node: RedisServer) -> str:
    info = node.client().execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        return str(info.get("cluster_state"))
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "ok" if "cluster_state:ok" in text else "fail"


@pytest.fixture
def cluster(nodes: tuple[str, list[ClusterNode]]) -> str:
    """A three-master Redis Cluster on loopback: its redis+cluster:// URL."""
    return nodes[0]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[str, list[ClusterNode]]]:
    """A three-master Redis Cluster on loopback: its URL, and its nodes."""
    cli = require_tool("redis-cli")
    nodes = []
    for i in range(3):
        workdir = tmp_path / f"node{i}"
        workdir.mkdir()
        node = ClusterNode(_cluster_port(), workdir)
        node.start()
        nodes.append(node)
    try:
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *[f"127.0.0.1:{n.port}" for n in nodes],
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for(lambda: all(_state(n) == "ok" for n in nodes), 30, 0.2, "the cluster to be ok")
        yield f"redis+cluster://127.0.0.1:{nodes[0].port}/0", nodes
    finally:
        for node in nodes:
            node.stop()


def test_two_shards_over_a_cluster_export_every_model_exactly_once_and_recover(
    cluster: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(40)
    write_reference(tmp_path / "ref.csv", sample(rng, 1000))
    configs = [make_config(tmp_path, cluster, MODELS) for _ in range(2)]  # own listen ports
    client = RedisCluster.from_url(cluster.replace("redis+cluster://", "redis://"))
    sizes = {m: 150 + 10 * i for i, m in enumerate(MODELS)}
    for m in MODELS:
        for p in records(sample(rng, sizes[m])):
            client.xadd(f"mlmon:{{{m}}}:predictions", {"data": p})

    def exported(daemon: object, model: str) -> float | None:
        return value(daemon, "mlmon_window_samples", model=model)  # type: ignore[arg-type]

    shards = [Shard(0, 2), Shard(1, 2)]
    with running(configs[0], shard=shards[0]) as first:
        with running(configs[1], shard=shards[1]) as second:
            replicas = (first, second)
            for m in MODELS:
                mine = replicas[owner(m, 2)]
                wait_for(
                    lambda m=m, mine=mine: exported(mine, m) == sizes[m],
                    60,
                    what=f"{m} on its replica",
                )
                assert exported(replicas[1 - owner(m, 2)], m) is None
            assert value(first, "mlmon_shard_info", shard="0", shards="2") == 1
        # the second replica is gone; start it again: its models come back from the streams
        with running(configs[1], shard=shards[1]) as again:
            for m in (m for m in MODELS if owner(m, 2) == 1):
                wait_for(
                    lambda m=m: exported(again, m) == sizes[m],
                    60,
                    what=f"{m} restored after the restart",
                )
    assert isinstance(client, redis.RedisCluster)


def test_a_master_down_stops_only_the_reading_of_its_own_models(
    nodes: tuple[str, list[ClusterNode]], tmp_path: Path
) -> None:
    """The reader's pass over the models ended at the first on the dead master: the models on
    the two healthy masters were not read until it came back (0 of 20 records in 15 s)."""
    url, members = nodes
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(41), 300))
    client = RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))
    node_of = {m: client.get_node_from_key(f"mlmon:{{{m}}}:predictions").port for m in MODELS}
    victim = members[1]
    healthy = [m for m in MODELS if node_of[m] != victim.port]
    assert healthy and len(healthy) < len(MODELS)
    with running(make_config(tmp_path, url, MODELS)) as daemon:
        wait_for(lambda: daemon.readiness()[0], 60, what="ready")
        victim.stop()
        for m in healthy:
            own = redis.Redis(port=node_of[m])
            for p in records(sample(np.random.default_rng(42), 20)):
                own.xadd(f"mlmon:{{{m}}}:predictions", {"data": p})

        def read(m: str) -> float | None:
            return value(daemon, "mlmon_records_read_total", model=m, kind="predictions")

        for m in healthy:
            wait_for(lambda m=m: read(m) == 20, 60, what=f"{m} read with a master down")


def _xreads(members: list[ClusterNode]) -> int:
    """XREAD calls the cluster's masters have answered so far."""
    return sum(
        int(redis.Redis(port=n.port).info("commandstats").get("cmdstat_xread", {}).get("calls", 0))
        for n in members
    )


def test_an_idle_cluster_is_polled_a_few_times_a_second_and_wakes_on_a_record(
    nodes: tuple[str, list[ClusterNode]], tmp_path: Path
) -> None:
    """A fixed 50 ms pause asked every idle model about 18 times a second (13 % of a core for
    ten models doing nothing); the pause now grows while nothing arrives."""
    url, members = nodes
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(43), 300))
    with running(make_config(tmp_path, url, MODELS)) as daemon:
        wait_for(lambda: daemon.readiness()[0], 60, what="ready")
        start, calls = time.monotonic(), _xreads(members)
        wait_for(lambda: time.monotonic() - start >= 3.0, 10, what="three idle seconds")
        per_model = (_xreads(members) - calls) / (time.monotonic() - start) / len(MODELS)
        assert per_model < 6, f"{per_model:.1f} reads a second per idle model"
        client = RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))
        for p in records(sample(np.random.default_rng(44), 1)):
            client.xadd(f"mlmon:{{{MODELS[3]}}}:predictions", {"data": p})
        wait_for(
            lambda: (
                value(daemon, "mlmon_records_read_total", model=MODELS[3], kind="predictions") == 1
            ),
            10,
            what="the record read after the lull",
        )


def test_the_pause_between_idle_cluster_passes_doubles_and_resets_when_a_record_arrives() -> None:
    pause = IdlePause(shortest=0.05, longest=0.4)
    assert [pause.after(False) for _ in range(5)] == [0.05, 0.1, 0.2, 0.4, 0.4]
    assert pause.after(True) == 0.0
    assert pause.after(False) == 0.05
