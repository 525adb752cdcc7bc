"""The metric catalog and docs/metrics.md must list the same metrics, types and labels."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.expose.catalog import CATALOG

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(mlmon_[a-z_]+)` \| (\w+) \| ([^|]*) \| [^|]+ \|$")


def _documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            labels = tuple(re.findall(r"`(\w+)`", match.group(3)))
            rows[match.group(1)] = (match.group(2), labels)
    return rows


def test_every_catalog_metric_is_documented_with_its_type_and_labels() -> None:
    declared = {s.name: (s.kind, s.labels) for s in CATALOG}
    assert _documented() == declared


def test_every_metric_name_is_declared_once() -> None:
    names = [s.name for s in CATALOG]
    assert len(names) == len(set(names))
