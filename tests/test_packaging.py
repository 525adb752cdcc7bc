"""The distribution's metadata and extras: what `pip install` of it brings and declares."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~! ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_license_is_an_spdx_expression_with_the_apache_license_file_shipped() -> None:
    project = PROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    # PEP 639 needs setuptools 77; license classifiers are superseded by the expression.
    assert "setuptools>=77" in PROJECT["build-system"]["requires"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]


def test_the_package_is_marked_typed_and_ships_the_marker() -> None:
    assert (ROOT / "exporter" / "py.typed").exists()
    assert "py.typed" in PROJECT["tool"]["setuptools"]["package-data"]["exporter"]
    assert "Typing :: Typed" in PROJECT["project"]["classifiers"]


def test_the_project_names_its_urls_and_python_versions() -> None:
    urls = PROJECT["project"]["urls"]
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls)
    assert "Programming Language :: Python :: 3.11" in PROJECT["project"]["classifiers"]


def test_the_demo_and_basic_auth_dependencies_are_extras_the_test_extra_pulls_in() -> None:
    project = PROJECT["project"]
    extras = project["optional-dependencies"]
    assert _names(extras["demo"]) == {"fakeredis"}
    assert _names(extras["web-auth"]) == {"bcrypt"}
    assert not _names(project["dependencies"]) & {"fakeredis", "bcrypt"}
    assert "ml-monitoring-exporter[demo,web-auth,parquet]" in extras["test"]


def test_the_documented_install_commands_bring_the_extras_they_use() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "pip install '.[demo]' && ml-monitoring-exporter demo" in readme
    assert "-e '.[test]'" in (ROOT / "scripts" / "test.sh").read_text()
    assert "'.[web-auth]'" in (ROOT / "Dockerfile").read_text()
    assert " LICENSE " in (ROOT / "Dockerfile").read_text()  # license-files must be in the context


def test_basic_auth_without_bcrypt_fails_check_config_naming_the_web_auth_extra(
    tmp_path: Path,
) -> None:
    (tmp_path / "web.yml").write_text(
        "basic_auth_users:\n  alice: '$2b$04$" + "a" * 21 + "e" + "a" * 31 + "'\n"  # well-formed
    )
    blocked = "import sys; sys.modules['bcrypt'] = None; "
    web = str(tmp_path / "web.yml")
    load = f"from exporter.web.webconfig import load_web_config; load_web_config({web!r})"
    result = subprocess.run(
        [sys.executable, "-c", blocked + load], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode != 0
    assert "basic_auth_users: needs bcrypt: pip install 'ml-monitoring-exporter[web-auth]'" in (
        result.stderr
    )


def test_the_producer_library_imports_without_the_evaluation_stack() -> None:
    """The light install of the README: redis, orjson and prometheus-client are enough."""
    heavy = ["numpy", "scipy", "apscheduler", "pydantic", "yaml", "cheroot", "jinja2", "msgspec"]
    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in heavy)
    code = f"import sys; {blocked}; from exporter.client import PredictionLogger, monitor"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
