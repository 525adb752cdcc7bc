"""The whole harness: `python -m bench [--quick]` runs every bench and records the tables.

Each bench's markdown goes to stdout as it finishes; the combined result replaces the
"## Summary" section of docs/benchmarks.md. A bench that fails or lacks a tool is reported in
the summary and the others still run.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import machine

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADING = "## Summary"


@dataclass(frozen=True)
class Bench:
    """One module of the harness and how to call it (argv for benches that parse their own)."""

    module: str
    argv: tuple[str, ...] = ()
    quick_argv: tuple[str, ...] | None = ()  # None: left out of --quick
    takes_quick: bool = False


BENCHES = (
    Bench("bench.ingest"),
    Bench("bench.daemon_ingest", takes_quick=True),
    Bench("bench.trickle", takes_quick=True),
    Bench("bench.daemon_memory", takes_quick=True),
    Bench("bench.evaluation", takes_quick=True),
    Bench("bench.scrape", takes_quick=True),
    Bench("bench.scrape_concurrency", takes_quick=True),
    Bench("bench.memory", takes_quick=True),
    Bench("bench.reference", takes_quick=True),
    Bench("bench.freshness", takes_quick=True),
    Bench("bench.load", takes_quick=True),
    Bench("bench.client_log"),
    Bench("bench.stats_speed"),
    Bench("bench.stats_power", ("20",), ("3",)),
    Bench("bench.stats_false_alarms"),
    Bench("bench.multivariate_alarms", (), ("5", "12")),
    Bench("bench.change_delay", ("100",), ("20",)),
    Bench("bench.change_ties", ("200",), ("20", "1000000")),
    Bench("bench.embedding", ("100",), ("0",)),
    Bench("bench.embedding_daemon", takes_quick=True),
    Bench("bench.perf_estimate"),
    Bench("bench.pages"),
    Bench("bench.soak", ("--minutes", "1"), None),
)


def run_one(bench: Bench, quick: bool) -> tuple[str, float, str]:
    """(status, seconds, captured markdown) of one bench, its output also echoed to stdout."""
    argv = bench.quick_argv if quick else bench.argv
    saved, out = sys.argv, io.StringIO()
    sys.argv = [bench.module, *(argv or ())]
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out):
            main: Callable[..., None] = importlib.import_module(bench.module).main
            main(quick) if bench.takes_quick else main()
        status = "ok"
    except (Exception, SystemExit) as exc:  # one bench failing must not hide the others
        status = f"failed: {exc!s}".splitlines()[0][:120]
        out.write(f"\n{bench.module} failed:\n```\n{traceback.format_exc(limit=3)}```\n")
    finally:
        sys.argv = saved
    text = out.getvalue()
    print(text, flush=True)
    return status, time.perf_counter() - start, text


def summary(quick: bool, results: list[tuple[Bench, str, float, str]]) -> str:
    """The Summary section: run table first, then every bench's tables (headings demoted)."""
    mode = "`python -m bench --quick`" if quick else "`python -m bench`"
    lines = [
        HEADING,
        "",
        f"Written by {mode} on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{machine()}. Targets met or missed are discussed in the sections below.",
        "",
        "| Bench | Status | Seconds |",
        "|---|---|---:|",
    ]
    lines += [f"| `{b.module}` | {status} | {secs:.0f} |" for b, status, secs, _ in results]
    for _, _, _, text in results:
        lines += [
            "",
            *(
                ("#" + line) if line.startswith("## ") else line
                for line in text.strip().splitlines()
            ),
        ]
    return "\n".join(lines) + "\n"


def record(section: str) -> None:
    """Replace (or add, after the introduction) the Summary section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    start = text.find(HEADING + "\n")
    if start < 0:
        first = text.find("\n## ")
        start = end = len(text) if first < 0 else first + 1
    else:
        following = text.find("\n## ", start + len(HEADING))
        end = len(text) if following < 0 else following + 1
    DOC.write_text(text[:start] + section + ("\n" if end < len(text) else "") + text[end:])


def main() -> None:
    """Run every bench (fewer and smaller with --quick) and record the summary."""
    quick = "--quick" in sys.argv[1:]
    results = []
    for bench in BENCHES:
        if quick and bench.quick_argv is None:
            continue
        status, seconds, text = run_one(bench, quick)
        results.append((bench, status, seconds, text))
    section = summary(quick, results)
    print(section.split("\n\n", 3)[2] if "\n\n" in section else section)
    record(section)


if __name__ == "__main__":
    main()
