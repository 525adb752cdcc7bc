"""Model-to-replica assignment: every model on exactly one replica, few moves on resize."""

from __future__ import annotations

import socket

import pytest

from exporter.daemon.shard import Shard, owner, parse_shard

MODELS = [f"model-{i}" for i in range(3000)]


def test_every_model_belongs_to_exactly_one_replica_and_load_is_even() -> None:
    shards = [Shard(i, 3) for i in range(3)]
    owners = [[s.index for s in shards if s.owns(m)] for m in MODELS]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(1 for o in owners if o == [i]) for i in range(3)]
    assert min(sizes) > 0.9 * len(MODELS) / 3


def test_going_from_two_to_three_shards_moves_about_a_third_of_the_models() -> None:
    moved = sum(owner(m, 2) != owner(m, 3) for m in MODELS) / len(MODELS)
    assert 0.28 < moved < 0.38
    assert all(owner(m, 3) == 2 for m in MODELS if owner(m, 2) != owner(m, 3))


def test_shard_flags_parse_indexes_and_statefulset_ordinals() -> None:
    assert parse_shard("1/3") == Shard(1, 3)
    assert parse_shard("auto/4", hostname="mlmon-exporter-2") == Shard(2, 4)
    for bad in ("3/3", "x/2", "1", "auto/2"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad, hostname="no-ordinal-here" if bad == "auto/2" else None)


def test_auto_reads_the_machines_hostname_when_hostname_is_not_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under systemd, cron or `env -i` $HOSTNAME is unset: the error said hostname '' of a
    machine named `vm`, and a machine named `exporter-1` could not find its ordinal."""
    monkeypatch.delenv("HOSTNAME", raising=False)
    monkeypatch.setattr(socket, "gethostname", lambda: "exporter-1")
    assert parse_shard("auto/3") == Shard(1, 3)
    monkeypatch.setenv("HOSTNAME", "")
    monkeypatch.setattr(socket, "gethostname", lambda: "vm")
    with pytest.raises(ValueError, match=r"hostname 'vm' does not end in -<ordinal>"):
        parse_shard("auto/3")
    monkeypatch.setenv("HOSTNAME", "mlmon-exporter-2")
    assert parse_shard("auto/3") == Shard(2, 3)
