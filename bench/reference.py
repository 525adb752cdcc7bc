"""References: `reference load` of CSV and Parquet, and a daemon's start-up until /readyz is ready.

    python -m bench.reference [--quick | --runs=N] [--load-only] [--before=DIR]

Everything runs as users run it: `ml-monitoring-exporter reference load` in its own process
against a private redis-server, and the daemon started on a config whose model reads that
Redis key, timed from the process start until /readyz answers 200, then its RSS. Baselines of
the same run: pyarrow.csv.read_csv and pyarrow.parquet.read_table of the same file, an
interpreter start importing the CLI, and the raw bytes of the reference and window columns.
With --before=DIR (a source tree of an earlier commit, e.g. from `git archive`), every
command also runs from that tree, alternating with this one run by run, so both see the
same machine load.
"""

from __future__ import annotations

import functools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import redis

from bench.common import free_port, machine, redis_server
from exporter.reference.load import store_in_redis

ROWS, WINDOW, RUNS = 100_000, 10_000, 3
HERE = Path(__file__).resolve().parent.parent  # the source tree measured as "after"
RSS_SLACK_MB = 150
TARGETS = {"csv": 2.0, "parquet": 1.0}
READY_TARGET = 15.0


def write_reference(directory: Path, numeric: int, categorical: int) -> tuple[Path, Path | None]:
    """A CSV of ROWS rows (full-precision floats, or 6 digits past 100 columns) and its Parquet."""
    rng = np.random.default_rng(7)
    columns: dict[str, list[str]] = {}
    digits = "%.17g" if numeric < 100 else "%.6g"
    for i in range(numeric):
        columns[f"f{i}"] = [digits % v for v in rng.normal(size=ROWS)]
    for i in range(categorical):
        columns[f"c{i}"] = [f"k{v}" for v in rng.integers(0, 8, size=ROWS)]
    csv_path = directory / f"ref{numeric + categorical}.csv"
    with csv_path.open("w") as out:
        out.write(",".join(columns) + "\n")
        for row in zip(*columns.values(), strict=True):
            out.write(",".join(row) + "\n")
    try:
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError:
        return csv_path, None
    parquet_path = csv_path.with_suffix(".parquet")
    kinds = {f"c{i}": pyarrow.string() for i in range(categorical)}
    table = pyarrow.csv.read_csv(
        csv_path, convert_options=pyarrow.csv.ConvertOptions(column_types=kinds)
    )
    pyarrow.parquet.write_table(table, parquet_path)
    return csv_path, parquet_path


def write_config(directory: Path, redis_port: int, web_port: int, numeric: int, cats: int) -> Path:
    """One regression model reading its reference from a Redis key."""
    features = [f"      - {{name: f{i}, type: numeric}}\n" for i in range(numeric)]
    features += [f"      - {{name: c{i}, type: categorical}}\n" for i in range(cats)]
    path = directory / f"config{numeric + cats}.yaml"
    path.write_text(
        f"redis: {{url: 'redis://127.0.0.1:{redis_port}/0'}}\n"
        f"web: {{listen_address: '127.0.0.1:{web_port}'}}\n"
        "models:\n  - name: m\n    task: regression\n"
        "    reference: {redis_key: 'ref:m'}\n"
        f"    window: {{duration: 1h, max_samples: {WINDOW}}}\n"
        "    features:\n" + "".join(features)
    )
    return path


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (this process and its children) of fn.

    CPU time is reported next to wall time because on a machine shared with other work the
    wall time measures the queue for a core as much as our code.
    """
    walls, cpus = [], []
    for _ in range(runs):
        cpu = _cpu_seconds()
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu_seconds() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _tree_env(tree: Path) -> dict[str, str]:
    """The environment that makes `python -m exporter` run the exporter of a source tree.

    With bytecode caching on, as for an installed package (pip compiles it): a checkout run
    with PYTHONDONTWRITEBYTECODE would compile every module on every start.
    """
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cli(tree: Path, *args: str) -> None:
    """One `ml-monitoring-exporter` command in its own process; a failure ends the bench."""
    done = subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tree,
        env=_tree_env(tree),
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed: {done.stderr.strip()[-300:]}")


def alternating(fns: Sequence[Callable[[], object]], runs: int) -> list[tuple[float, float]]:
    """timed() of each fn, one run of each in turn, so a change of machine load hits all."""
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            wall, cpu = timed(fn, 1)
            walls[i].append(wall)
            cpus[i].append(cpu)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus, strict=True)]


def start_to_ready(tree: Path, config: Path, web_port: int) -> tuple[float, float, float]:
    """Seconds from the daemon's start until /readyz answers 200, its CPU seconds and RSS (MB)."""
    start = time.perf_counter()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "exporter", f"--config.file={config}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tree,
        env=_tree_env(tree),
    )
    try:
        deadline = start + 600
        while time.perf_counter() < deadline:
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited with {daemon.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=5):
                    ready = time.perf_counter() - start
                    return ready, cpu_seconds(daemon.pid), rss_mb(daemon.pid)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        raise SystemExit("the daemon was not ready within 600 s")
    finally:
        daemon.terminate()
        daemon.wait(60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def attempt(fn: Callable[[], object]) -> Callable[[], object]:
    """fn, printing why instead of ending the bench when the command refuses (no Parquet)."""

    def run() -> object:
        try:
            return fn()
        except SystemExit as exc:
            print(f"<!-- {exc} -->")
            return None

    return run


def _versions() -> str:
    """pyarrow's and isal's versions (absent: the code falls back to the stdlib)."""
    found = []
    for name in ("pyarrow", "isal"):
        try:
            module = __import__(name)
            found.append(f"{name} {module.__version__}")
        except ImportError:
            found.append(f"{name} absent")
    return ", ".join(found)


def load_table(directory: Path, redis_port: int, runs: int, trees: dict[str, Path]) -> None:
    """`reference load` of the 25-column reference, CSV and Parquet, with their baselines."""
    import pyarrow.csv
    import pyarrow.parquet

    csv_path, parquet_path = write_reference(directory, 20, 5)
    assert parquet_path is not None
    config = write_config(directory, redis_port, free_port(), 20, 5)
    flags = (f"--config.file={config}", "--model=m")
    print(f"`reference load` of {ROWS:,} rows × 25 columns (20 numeric, 5 categorical) in its")
    print(f"own process against redis-server; median of {runs} runs ({_versions()}). The CSV ")
    print(f"is {csv_path.stat().st_size / 1e6:.0f} MB, the Parquet file (pyarrow defaults) ")
    print(f"{parquet_path.stat().st_size / 1e6:.0f} MB. Baseline: the same file read by pyarrow")
    print("in-process; `--version` is an interpreter starting the CLI, the floor of every ")
    print(f"command. Code: {', '.join(trees)}, run by run in turn, after one warm-up run each")
    print("(bytecode compiled, files in the page cache, as for an installed package).\n")
    print("| Command | Code | Wall (s) | CPU (s) | Target (wall) | pyarrow read wall (s) |", end="")
    print(" Wall / pyarrow read |")
    print("|---|---|---:|---:|---|---:|---:|")
    for tree in trees.values():  # compiles the bytecode and reads the files into the page cache
        cli(tree, "reference", "load", *flags, f"--file={parquet_path}")
    floors = alternating([functools.partial(cli, t, "--version") for t in trees.values()], runs)
    for code, floor in zip(trees, floors, strict=True):
        print(f"| `--version` | {code} | {floor[0]:.2f} | {floor[1]:.2f} | | | |")
    for fmt, path, read in (
        ("csv", csv_path, lambda: pyarrow.csv.read_csv(csv_path)),
        ("parquet", parquet_path, lambda: pyarrow.parquet.read_table(parquet_path)),
    ):
        loads = [
            attempt(functools.partial(cli, t, "reference", "load", *flags, f"--file={path}"))
            for t in trees.values()
        ]
        measured = alternating([*loads, read], runs)
        base = measured[-1][0]
        for code, (wall, cpu) in zip(trees, measured, strict=False):
            met = "met" if wall < TARGETS[fmt] else "missed"
            print(
                f"| `reference load` {fmt} | {code} | {wall:.2f} | {cpu:.2f} | "
                f"< {TARGETS[fmt]:g} s {met} | {base:.3f} | {wall / base:.1f} |"
            )


def startup_table(
    directory: Path, client: redis.Redis, redis_port: int, runs: int, trees: dict[str, Path]
) -> None:
    """Daemon start to ready, and RSS then, for 25 and 200 features with a 100k reference."""
    print("\nDaemon start until /readyz answers 200 (reference fitted from its Redis key, ")
    print(f"{ROWS:,} rows, window of {WINDOW:,} samples), the daemon's CPU seconds and RSS")
    print(f"then; median of {runs} runs. Raw: 8 bytes per reference and per window cell.")
    print("RSS target: under 2 × raw + 150 MB.\n")
    print("| Features | Code | Start to ready (s) | CPU (s) | Target | RSS (MB) |", end="")
    print(" Raw ref + window (MB) | RSS target (MB) | RSS / raw |")
    print("|---:|---|---:|---:|---|---:|---:|---:|---:|")
    for numeric, cats in ((20, 5), (200, 0)):
        csv_path, _ = write_reference(directory, numeric, cats)
        store_in_redis(client, "ref:m", csv_path.read_bytes(), "csv")
        csv_path.unlink()
        port = free_port()
        config = write_config(directory, redis_port, port, numeric, cats)
        measured: dict[str, list[tuple[float, float, float]]] = {code: [] for code in trees}
        for _ in range(runs):
            for code, tree in trees.items():
                measured[code].append(start_to_ready(tree, config, port))
        features = numeric + cats
        raw = (ROWS + WINDOW) * features * 8 / 2**20
        budget = 2 * raw + RSS_SLACK_MB
        for code, runs_of in measured.items():
            ready, cpu, rss = (statistics.median(m[i] for m in runs_of) for i in range(3))
            met = "met" if ready < READY_TARGET else "missed"
            rss_met = "met" if rss < budget else "missed"
            print(
                f"| {features} | {code} | {ready:.1f} | {cpu:.1f} | < {READY_TARGET:g} s {met} | "
                f"{rss:.0f} | {raw:.0f} | {budget:.0f} {rss_met} | {rss / raw:.2f} |"
            )


def main(quick: bool = False) -> None:
    """Print the reference tables (flags from sys.argv, as `python -m bench` passes them)."""
    argv = sys.argv[1:]
    runs = 1 if quick or "--quick" in argv else RUNS
    runs = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--runs=")), runs)
    trees = {"after": HERE}
    before = [a.split("=", 1)[1] for a in argv if a.startswith("--before=")]
    if before:
        trees = {"before": Path(before[0]).resolve(), **trees}
    print(f"## References ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    with redis_server() as client, tempfile.TemporaryDirectory() as tmp:
        port = int(client.connection_pool.connection_kwargs["port"])
        load_table(Path(tmp), port, runs, trees)
        if "--load-only" not in argv:
            startup_table(Path(tmp), client, port, runs, trees)


if __name__ == "__main__":
    main()
