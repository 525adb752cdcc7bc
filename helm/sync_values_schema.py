"""Embed the exporter's config schema (config/schema.json) in the chart's values.schema.json.

config/schema.json is generated from the exporter's pydantic config models; the chart's
`config` value is that same document, so `helm lint`/`helm install` reject a misspelt config
key (say `models[0].feature`) instead of the pod failing at start. The config schema's
`$defs` become the values schema's root `$defs`, so its `#/$defs/...` references resolve
unchanged; `properties.config` is the config schema without `$schema` and `$defs`.

    python helm/sync_values_schema.py          # rewrite values.schema.json
    python helm/sync_values_schema.py --check  # exit 1 when values.schema.json is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG_SCHEMA = ROOT / "config" / "schema.json"
VALUES_SCHEMA = ROOT / "helm" / "ml-monitoring-exporter" / "values.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def embedded(values: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The values schema with `config` (and the root `$defs`) taken from the config schema."""
    if config.get("$schema") != DRAFT:
        raise ValueError(f"config/schema.json is not {DRAFT}: {config.get('$schema')}")
    out = {"$schema": DRAFT, **{k: v for k, v in values.items() if k not in ("$schema", "$defs")}}
    out["properties"] = dict(values["properties"])
    out["properties"]["config"] = {k: v for k, v in config.items() if k not in ("$schema", "$defs")}
    out["$defs"] = config.get("$defs", {})
    return out


def extracted(values: dict[str, Any]) -> dict[str, Any]:
    """The config schema as embedded in a values schema (the inverse of `embedded`)."""
    return {"$schema": DRAFT, "$defs": values["$defs"], **values["properties"]["config"]}


def text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def expected() -> str:
    """values.schema.json as it should be committed."""
    values = json.loads(VALUES_SCHEMA.read_text())
    return text(embedded(values, json.loads(CONFIG_SCHEMA.read_text())))


def main(argv: list[str]) -> int:
    want = expected()
    if "--check" in argv:
        if VALUES_SCHEMA.read_text() != want:
            print(
                f"{VALUES_SCHEMA} is stale: run python helm/sync_values_schema.py", file=sys.stderr
            )
            return 1
        return 0
    VALUES_SCHEMA.write_text(want)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
