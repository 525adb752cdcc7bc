"""config/schema.json, generated from the declared keys so editors check what the loader does.

Run `python -m exporter.config.schema` after changing a key; a test fails until the file
matches again. The field descriptions are the models' attribute docstrings, which only a
process started with MLMON_CONFIG_DOCSTRINGS=1 builds (see `keys.DOCSTRINGS`): elsewhere the
schema is generated in such a process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from exporter.config.keys import DOCSTRINGS
from exporter.config.load import ConfigKeys

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "config" / "schema.json"


class _EditorSchema(GenerateJsonSchema):
    """Without pydantic's titles (noise in an editor's hover) and with the draft named."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def generate(self, schema: Any, mode: Any = "validation") -> dict[str, Any]:
        result = super().generate(schema, mode)
        for node in [result, *result.get("$defs", {}).values()]:
            node.pop("title", None)
        return {"$schema": self.schema_dialect, **_with_variables(result)}


_VARIABLE = {"type": "string", "pattern": r"\$\{"}
_KEPT = ("description", "default")  # stay on the key, beside the alternatives


def _with_variables(node: Any) -> Any:
    """A number or flag may also be written as an environment variable, as the loader reads it
    (`max_samples: ${WINDOW:-4000}`; see scalars.ExpandedWord)."""
    if isinstance(node, list):
        return [_with_variables(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "anyOf" in node:  # one more alternative, beside the number's
        branches = [b if _scalar(b) else _with_variables(b) for b in node["anyOf"]]
        if any(map(_scalar, branches)) and _VARIABLE not in branches:
            branches.append(_VARIABLE)
        return {**node, "anyOf": branches}
    if _scalar(node):
        kept = {key: node[key] for key in _KEPT if key in node}
        value = {key: item for key, item in node.items() if key not in _KEPT}
        return {"anyOf": [value, _VARIABLE], **kept}
    return {key: _with_variables(item) for key, item in node.items()}


def _scalar(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") in ("integer", "number", "boolean")


def schema_text() -> str:
    """The schema as committed: indented, keys in declaration order, one trailing newline."""
    if os.environ.get(DOCSTRINGS) != "1":  # the models here were built without descriptions
        return subprocess.run(
            [sys.executable, "-m", "exporter.config.schema", "-"],
            env={**os.environ, DOCSTRINGS: "1"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    schema = ConfigKeys.model_json_schema(schema_generator=_EditorSchema)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> None:
    """Write the schema to argv[0] ("-": standard output), or to config/schema.json."""
    if argv == ["-"]:
        sys.stdout.write(schema_text())
        return
    Path(argv[0] if argv else SCHEMA_FILE).write_text(schema_text())


if __name__ == "__main__":
    main(sys.argv[1:])
