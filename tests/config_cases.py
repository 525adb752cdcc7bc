"""Config documents for the config tests: a minimal valid model, and loaders that report errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import Config, ConfigError, ModelConfig, load_config_text

ROOT = Path(__file__).resolve().parent.parent


def model_keys(**overrides: Any) -> dict[str, Any]:
    """A minimal valid model mapping with some keys replaced."""
    model: dict[str, Any] = {
        "name": "fraud",
        "task": "binary_classification",
        "features": [{"name": "amount", "type": "numeric"}],
    }
    model.update(overrides)
    return model


def load_doc(doc: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Load a config given as a Python mapping, with an empty environment by default."""
    return load_config_text(yaml.safe_dump(dict(doc)), environ or {}, base_dir="/etc/mlmon")


def load_model(**overrides: Any) -> ModelConfig:
    """The single model of a config holding model_keys(**overrides)."""
    return load_doc({"models": [model_keys(**overrides)]}).models[0]


def load_error(doc: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The ConfigError message loading doc raises."""
    with pytest.raises(ConfigError) as info:
        load_doc(doc, environ)
    return str(info.value)


def model_error(**overrides: Any) -> str:
    """The ConfigError message for a config holding model_keys(**overrides)."""
    return load_error({"models": [model_keys(**overrides)]})
