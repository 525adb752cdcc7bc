"""The exporter's configuration: load_config() turns the YAML file into frozen dataclasses."""

from exporter.config.load import ConfigError, load_config, load_config_text
from exporter.config.model import (
    Bounds,
    Config,
    DriftSpec,
    FeatureConfig,
    LabelsConfig,
    ModelConfig,
    RedisConfig,
    ReferenceConfig,
    ScheduleConfig,
    SLOConfig,
    StreamsConfig,
    TLSConfig,
    WebConfig,
    WindowConfig,
)
from exporter.stats.kinds import FeatureType, Task

__all__ = [
    "Bounds",
    "Config",
    "ConfigError",
    "DriftSpec",
    "FeatureConfig",
    "FeatureType",
    "LabelsConfig",
    "ModelConfig",
    "RedisConfig",
    "ReferenceConfig",
    "SLOConfig",
    "ScheduleConfig",
    "StreamsConfig",
    "TLSConfig",
    "Task",
    "WebConfig",
    "WindowConfig",
    "load_config",
    "load_config_text",
]
