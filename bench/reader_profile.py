"""Where the running exporter's reader thread spends its time while it catches up a backlog.

    python -m bench.reader_profile [--records N]

For the single-entry and the batch-entry case of bench.daemon_ingest: a private redis-server
and `python -m exporter`, paused (SIGSTOP) while a producer process fills the stream, then
resumed under `py-spy record --nonblocking` until Redis sees its reader wait for new entries.
Prints the reader thread's top functions by own time and by time including callees (samples
of other threads, such as the HTTP server's, are left out). Not part of `python -m bench`:
the profiler slows the exporter it samples, so its figures are shares, not rates.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._producer import produce
from bench.daemon_ingest import CASES, Case, Setup, consume

RECORDS = {"single": 300_000, "batch": 600_000}  # a few seconds of reading each
RATE = 200  # samples per second
READER = "reader.py"  # every frame of the reader thread's stacks runs under StreamReader.run
LINE = re.compile(r":\d+\)$")


def py_spy() -> str:
    """The py-spy executable, next to this Python or on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    found = str(here) if here.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is required (pip install py-spy, in the test extra)")
    return found


def profile(case: Case, records: int, workdir: Path) -> tuple[float, Path]:
    """Records/s read under the profiler, and py-spy's raw (collapsed) stacks."""
    setup = Setup.start(case, workdir)
    out = workdir / f"{case.key}.stacks"
    try:
        setup.daemon.wait_evaluated(case.models)
        before = setup.daemon.records_read()
        os.kill(setup.daemon.proc.pid, signal.SIGSTOP)
        port = setup.client.connection_pool.connection_kwargs["port"]
        args = (port, case.streams(), records, case.batch, 1)
        producer = mp.get_context("fork").Process(target=produce, args=args)
        producer.start()
        producer.join()
        pid = str(setup.daemon.proc.pid)
        command = [py_spy(), "record", "--nonblocking", "-p", pid, "-f", "raw", "-o", str(out)]
        spy = subprocess.Popen(
            [*command, "-r", str(RATE)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attached before the exporter resumes
        wall, _ = consume(setup, before + records)
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(60)
        return records / wall, out
    finally:
        setup.stop()


def shares(stacks: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Reader-thread samples, and per function (line numbers dropped) own and total samples."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if READER not in stack:
            continue
        n = int(count)
        samples += n
        frames = [LINE.sub(")", frame) for frame in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return samples, own, total


def table(case: Case, rate: float, stacks: Path, top: int = 12) -> str:
    """The markdown of one case: own time, then time including callees below the loop."""
    samples, own, total = shares(stacks)
    lines = [
        f"**{case.label}** ({rate:,.0f} records/s under the profiler, {samples:,} samples "
        "of the reader thread)",
        "",
        "| Own time | Function | | Including callees | Function |",
        "|---:|---|---|---:|---|",
    ]
    below = [(f, n) for f, n in total.most_common() if n < samples]  # not the loop itself
    for (f_own, n_own), (f_all, n_all) in zip(own.most_common(top), below[:top], strict=False):
        lines.append(
            f"| {100 * n_own / samples:.1f} % | `{f_own}` | | "
            f"{100 * n_all / samples:.1f} % | `{f_all}` |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Profile both cases and print their tables."""
    given = argv[argv.index("--records") + 1] if "--records" in argv else RECORDS["single"]
    scale = float(given) / RECORDS["single"]
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES[:2]:
            records = int(RECORDS[case.key] * scale)
            rate, stacks = profile(case, records, Path(tmp))
            print(table(case, rate, stacks))


if __name__ == "__main__":
    main(sys.argv[1:])
