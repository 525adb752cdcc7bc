"""The package keeps the shape docs/architecture.md describes: one-way stages, small units."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "exporter"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_stage_imports_a_later_one() -> None:
    tool = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(tool).exists():
        pytest.fail("lint-imports is missing: install the test extras (pip install -e .[test])")
    result = subprocess.run(
        [tool, "--no-cache"], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_no_module_is_longer_than_a_sitting() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_longer_than_fifty_lines() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_every_module_says_first_what_it_owns() -> None:
    silent = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.stat().st_size and not ast.get_docstring(ast.parse(p.read_text()))
    ]
    assert not silent, f"modules without a docstring: {silent}"


def test_nothing_imports_modules_by_name_at_run_time() -> None:
    users = [str(p.relative_to(PACKAGE)) for p in _modules() if "importlib" in p.read_text()]
    assert not users, f"importlib hides an import from the stage check in: {users}"
