"""Every config we ship is quiet on its own reference data: its performance bounds hold there."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.config import Config, ModelConfig, load_config, load_config_text
from exporter.demo.runner import demo_config
from exporter.demo.simulate import reference_csv
from exporter.evaluate.fit import fit_reference
from exporter.reference.load import ReferenceData, parse_reference, read_reference_file

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ROOT / "config" / "reference"


def _readme_config() -> Config:
    """The YAML block of the README's configuration section, as if saved in config/."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README's configuration section has no YAML block"
    return load_config_text(block.group(1), {}, base_dir=str(ROOT / "config"))


def _demo_reference(model: ModelConfig, index: int) -> ReferenceData:
    """The reference the demo loads into Redis for its index-th model."""
    return parse_reference(model, reference_csv(model.name, 5000, seed=index), "csv", "demo")


def _file_reference(model: ModelConfig, index: int) -> ReferenceData:
    """A file reference, or config/reference/<model>.csv for a redis_key (`reference load`)."""
    return read_reference_file(model, model.reference.file or str(REFERENCES / f"{model.name}.csv"))


SHIPPED: dict[str, tuple[Callable[[], Config], Callable[[ModelConfig, int], ReferenceData]]] = {
    "config/example.yaml": (
        lambda: load_config(str(ROOT / "config" / "example.yaml"), {}),
        _file_reference,
    ),
    "examples/config.yaml": (
        lambda: load_config(str(ROOT / "examples" / "config.yaml"), {}),
        _file_reference,
    ),
    "README.md": (_readme_config, _file_reference),
    "demo": (lambda: demo_config("redis://127.0.0.1:1/0", "127.0.0.1:0"), _demo_reference),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_config_holds_its_performance_bounds_on_its_own_reference(name: str) -> None:
    load, reference = SHIPPED[name]
    checked = 0
    for index, model in enumerate(load().models):
        baseline = dict(fit_reference(model, reference(model, index)).performance)
        for metric, bounds in model.performance:
            assert metric in baseline, f"{name}: {model.name} reference has no {metric}"
            low, high = bounds.resolve(metric, baseline[metric])
            value = baseline[metric]
            assert low is None or value >= low, f"{name}: {model.name} {metric} {value} < {low}"
            assert high is None or value <= high, f"{name}: {model.name} {metric} {value} > {high}"
            checked += 1
    assert checked, f"{name} sets no performance bounds"
