"""A running daemon keeps BLAS to one thread, so an evaluation leaves the other cores free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from tests.conftest import RedisServer
from tests.helpers import make_config, running, sample, write_reference


def _blas_threads() -> dict[str, int]:
    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_a_running_daemon_pins_every_blas_library_to_one_thread_and_stopping_restores_them(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(3), 500))
    with threadpool_limits(limits=2, user_api="blas"):  # as OpenBLAS starts on 2 cores
        before = _blas_threads()
        assert set(before.values()) == {2}, "numpy and scipy load a BLAS"
        with running(make_config(tmp_path, redis_server.url)):
            assert _blas_threads() == dict.fromkeys(before, 1)
        assert _blas_threads() == before
