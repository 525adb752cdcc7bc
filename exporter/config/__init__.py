"""The exporter's configuration: load_config() validates the YAML file into frozen models."""

from exporter.config.drift import DriftSpec, FeatureConfig
from exporter.config.keys import ConfigError
from exporter.config.load import Config, load_config, load_config_text
from exporter.config.models import ModelConfig, ReferenceConfig, StreamsConfig
from exporter.config.performance import Bounds
from exporter.config.redis_web import RedisConfig, TLSConfig, WebConfig
from exporter.config.segments import SegmentConfig
from exporter.config.settings import (
    LabelsConfig,
    MultivariateConfig,
    ScheduleConfig,
    SLOConfig,
    VersionsConfig,
    WindowConfig,
)

__all__ = [
    "Bounds",
    "Config",
    "ConfigError",
    "DriftSpec",
    "FeatureConfig",
    "LabelsConfig",
    "ModelConfig",
    "MultivariateConfig",
    "RedisConfig",
    "ReferenceConfig",
    "SLOConfig",
    "ScheduleConfig",
    "SegmentConfig",
    "StreamsConfig",
    "TLSConfig",
    "VersionsConfig",
    "WebConfig",
    "WindowConfig",
    "load_config",
    "load_config_text",
]
