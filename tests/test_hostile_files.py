"""Hostile files against the real command: alias bombs, huge configs, /dev/zero and FIFOs.

Each test replays an attack that once hung `check-config`, killed the config watch with
MemoryError, or left the daemon deaf to SIGTERM, and checks what an operator would see.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import sample, write_reference
from tests.test_lifecycle import _config, _get, _sample

ROOT = Path(__file__).resolve().parent.parent

# The classic "billion laughs": nine levels of nine aliases, 9**9 strings once expanded.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
BIG_LIST_ITEMS = 5_000_000
FAILED = 'mlmon_config_reloads_total{outcome="failure"}'
SUCCEEDED = 'mlmon_config_reloads_total{outcome="success"}'
LAST_OK = "mlmon_config_last_reload_successful"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def big_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 49 MB config: a list of five million items under `models`."""
    path = tmp_path_factory.mktemp("big") / "config.yaml"
    with path.open("w") as fh:
        fh.write("models:\n")
        for start in range(0, BIG_LIST_ITEMS, 500_000):
            fh.write("".join(f"- {i:07d}\n" for i in range(start, start + 500_000)))
    assert path.stat().st_size > 45 * MB
    return path


@pytest.fixture
def hostile_config(request: pytest.FixtureRequest, tmp_path: Path, big_config: Path) -> Path:
    """The alias bomb or the 49 MB list, by the parameter's name."""
    if request.param == "alias bomb":
        path = tmp_path / "bomb.yaml"
        path.write_text(ALIAS_BOMB)
        return path
    return big_config


@dataclass(frozen=True)
class Finished:
    """How a child process ended: exit code, wall time, its own peak RSS, its stderr."""

    code: int
    seconds: float
    peak_rss: int
    stderr: str


# check-config must refuse a hostile file rather than hang on it: one still running after this
# is killed and fails the test. Generous, so a busy machine's slow start-up is no failure.
REFUSE_DEADLINE = 30
# A small Python runs check-config and reports the child's own peak RSS (wait4): a child forked
# straight from pytest would count pytest's resident pages, shared at fork, as its own. It also
# kills the child at the deadline, so a hang leaves nothing running behind.
LAUNCH = (
    "import os, signal, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)\n"
    "signal.signal(signal.SIGALRM, lambda *_: p.kill())\n"
    "signal.alarm(int(sys.argv[1]))\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(usage.ru_maxrss)\n"
    "if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:\n"
    "    sys.exit(f'check-config still running after {sys.argv[1]}s: killed')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _check_config(config: Path, tmp: Path) -> Finished:
    """`check-config` as a child process, timed, with its own peak RSS; killed at the deadline."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCH,
            str(REFUSE_DEADLINE),
            sys.executable,
            "-m",
            "exporter",
            "check-config",
            f"--config.file={config}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=REFUSE_DEADLINE + 30,
        check=False,
    )
    seconds = time.monotonic() - started
    return Finished(done.returncode, seconds, int(done.stdout.split()[-1]) * 1024, done.stderr)


@pytest.mark.parametrize("hostile_config", ["alias bomb", "49 MB list"], indirect=True)
def test_check_config_refuses_a_hostile_config_promptly_and_within_200mb(
    hostile_config: Path, tmp_path: Path
) -> None:
    done = _check_config(hostile_config, tmp_path)
    assert done.code == 2, done
    assert done.peak_rss < 200 * MB, done
    assert str(hostile_config) in done.stderr
    assert (
        "more than 100,000 values once aliases are expanded" in done.stderr
        or "larger than the 4 MiB limit (47.7 MiB)" in done.stderr
    ), done.stderr


@contextmanager
def daemon(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`ml-monitoring-exporter run` as a child logging to a file (no pipe to fill up)."""
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", f"--config.file={config}", "--log.format=json"],
            cwd=ROOT,
            stdout=fh,
            stderr=fh,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _replace(path: Path, content: Path | str) -> None:
    """Swap a file's content in one rename, as a ConfigMap update does."""
    staged = path.with_name(path.name + ".new")
    if isinstance(content, Path):
        shutil.copyfile(content, staged)
    else:
        staged.write_text(content)
    os.replace(staged, path)


def _running(redis_server: RedisServer, tmp: Path) -> tuple[Path, int, str]:
    """A valid config for model m (tmp/ref.csv), its port and its text."""
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(16), 2000))
    port = free_port()
    text = _config(redis_server.url, port, ("m",))
    path = tmp / "config.yaml"
    path.write_text(text)
    return path, port, text


def test_hostile_configs_are_refused_live_and_the_watch_still_applies_a_later_edit(
    redis_server: RedisServer, tmp_path: Path, big_config: Path
) -> None:
    path, port, _ = _running(redis_server, tmp_path)
    with daemon(path, tmp_path / "daemon.log") as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        peak_before = _peak_rss(proc.pid)
        hostile: tuple[str | Path, ...] = (ALIAS_BOMB, big_config)
        for failures, content in enumerate(hostile, 1):
            _replace(path, content)  # no SIGHUP: the file watch must notice
            settles_at(
                lambda: _sample(port, FAILED),
                float(failures),
                settle=6.0,
                interval=0.2,
                what="failed reloads",
            )
            assert _sample(port, LAST_OK) == 0
            assert _get(port, "/readyz")[0] == 200
        assert _peak_rss(proc.pid) - peak_before < 100 * MB
        _replace(path, _config(redis_server.url, port, ("m", "m2")))
        wait_for(lambda: _sample(port, SUCCEEDED) == 1, 30, 0.2, "the valid edit applied")
        assert _sample(port, LAST_OK) == 1
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="m2"}') == 0,
            30,
            0.2,
            "the new model evaluated",
        )
        assert proc.poll() is None
    log = (tmp_path / "daemon.log").read_text()
    assert "more than 100,000 values once aliases are expanded" in log
    assert "larger than the 4 MiB limit" in log


def _hostile_reference(kind: str, tmp: Path) -> Path:
    """A reference path that is a symlink to /dev/zero, or a FIFO nobody writes to."""
    path = tmp / "hostile.csv"
    if kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    return path


REFERENCES = ["symlink to /dev/zero", "FIFO"]
# A daemon stuck on the hostile reference would never end; one that ends takes a moment, more
# on a busy machine.
STOP_DEADLINE = 15


@pytest.mark.parametrize("kind", REFERENCES)
def test_a_reference_that_is_not_a_regular_file_is_refused_on_sighup_and_sigterm_still_ends(
    kind: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    path, port, text = _running(redis_server, tmp_path)
    hostile = _hostile_reference(kind, tmp_path)
    with daemon(path, tmp_path / "daemon.log") as proc:
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="m"}') == 0,
            30,
            0.2,
            "the first evaluation",
        )
        _replace(path, text.replace("ref.csv", hostile.name))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (_sample(port, FAILED) or 0) >= 1, 30, 0.2, "the reload refused")
        assert _sample(port, LAST_OK) == 0
        assert _get(port, "/readyz")[0] == 200  # the old config runs on
        assert _sample(port, 'mlmon_window_samples{model="m"}') == 0
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM did not end the daemon within {STOP_DEADLINE}s")
        assert code == 0
    log = (tmp_path / "daemon.log").read_text()
    assert f"model 'm': cannot read reference {hostile}: " in log
    assert "not a regular file" in log


@pytest.mark.parametrize("kind", REFERENCES)
def test_check_config_refuses_a_reference_that_is_not_a_regular_file(
    kind: str, tmp_path: Path
) -> None:
    hostile = _hostile_reference(kind, tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(
        _config("redis://127.0.0.1:1/0", free_port(), ("m",)).replace("ref.csv", hostile.name)
    )
    done = _check_config(config, tmp_path)
    assert done.code == 2, done.stderr
    assert f"model 'm': cannot read reference {hostile}: " in done.stderr
    assert "not a regular file" in done.stderr
