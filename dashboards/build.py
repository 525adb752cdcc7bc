"""Write the Grafana dashboards from Python, so their conventions live in one place.

Run `python -m dashboards.build` from the repository root after changing a dashboard; the
tests fail when the committed JSON differs from what this prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from dashboards import detail, exporter_health, fleet
from dashboards.grafana import Json

HERE = Path(__file__).resolve().parent
DASHBOARDS: dict[str, Callable[[], Json]] = {
    "ml-fleet-overview.json": fleet.build,
    "ml-model-detail.json": detail.build,
    "ml-monitoring-exporter.json": exporter_health.build,
}


def render(build: Callable[[], Json]) -> str:
    """The dashboard as committed: two-space indent, trailing newline."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write every dashboard; with --check, only report which files are out of date."""
    stale = []
    for name, build in DASHBOARDS.items():
        text = render(build)
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    for name in stale:
        print(f"{name} is out of date: run python -m dashboards.build", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
