"""Feed ground-truth labels to the exporter: one `id,label` line each, from a file or stdin.

    python examples/label_feeder.py --redis-url redis://localhost:6379/0 labels.csv
    printf 'tx-1,0\ntx-2,1\n' | python examples/label_feeder.py

Labels usually come from a later business event (a chargeback, a delivery time); run this
from the job that learns them. A line with a header `id,label` is skipped.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable

from exporter.client import PredictionLogger


def parse(value: str) -> int | float | str:
    """Labels as the model's classes or targets: an integer, else a number, else the text."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def feed(logger: PredictionLogger, lines: Iterable[str]) -> int:
    """Log every `id,label` row; returns how many were logged."""
    count = 0
    for row in csv.reader(lines):
        if len(row) != 2 or row == ["id", "label"]:
            continue
        logger.log_label(row[0].strip(), parse(row[1].strip()))
        count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="CSV of id,label (default: stdin)")
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    parser.add_argument("--model", default="fraud")
    args = parser.parse_args()
    with PredictionLogger(args.redis_url, args.model) as logger:
        if args.file:
            with open(args.file, newline="") as fh:
                count = feed(logger, fh)
        else:
            count = feed(logger, sys.stdin)
        delivered = logger.flush(30)
    print(f"{count} labels {'written' if delivered else 'queued, not all written'}")
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(main())
