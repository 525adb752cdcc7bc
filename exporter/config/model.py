"""The validated configuration: frozen dataclasses the rest of the daemon reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.stats.kinds import FeatureType, Task


@dataclass(frozen=True)
class TLSConfig:
    """Files for a TLS connection to Redis; all optional."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class RedisConfig:
    """Where the streams and references live."""

    url: str = "redis://localhost:6379/0"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a logged repr
    password_file: str | None = None
    tls: TLSConfig = field(default_factory=TLSConfig)
    socket_timeout_seconds: float = 5.0
    read_count: int = 1000
    block_ms: int = 1000
    backoff_max_seconds: float = 30.0
    check_interval_seconds: float = 5.0  # lag and trimmed-entry accounting, per stream


@dataclass(frozen=True)
class WebConfig:
    """The HTTP listener for /metrics and the health endpoints."""

    listen_address: str = "0.0.0.0:10135"
    external_url: str = ""


@dataclass(frozen=True)
class WindowConfig:
    """Bounds of the in-memory window: whichever is hit first wins."""

    duration_seconds: float = 3600.0
    max_samples: int = 10000


@dataclass(frozen=True)
class ScheduleConfig:
    """When a model is evaluated: a fixed interval or a crontab line."""

    interval_seconds: float | None = 60.0
    cron: str | None = None


@dataclass(frozen=True)
class DriftSpec:
    """A drift method and its threshold; None means the method's default."""

    method: str | None = None
    threshold: float | None = None
    learned: bool = False  # threshold: learned -> mean + k sd over reference chunks


@dataclass(frozen=True)
class FeatureConfig:
    """One model input as the producer names it."""

    name: str
    type: FeatureType
    drift: DriftSpec = field(default_factory=DriftSpec)
    range: tuple[float, float] | None = None
    allowed: tuple[str, ...] | None = None
    importance: float = 1.0


@dataclass(frozen=True)
class ReferenceConfig:
    """Where the reference data set comes from: a file, or a Redis key."""

    file: str | None = None
    redis_key: str | None = None


@dataclass(frozen=True)
class StreamsConfig:
    """The model's Redis stream keys."""

    predictions: str
    labels: str


# Performance metrics that get worse as they grow (errors, losses, calibration error); every
# other metric (accuracy, precision, recall, f1 and their averages, roc_auc, r2) is better high.
LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape", "log_loss", "brier", "ece"})


@dataclass(frozen=True)
class Bounds:
    """An acceptable range for one performance metric; any side optional.

    max_drop bounds the metric relative to its value on the reference data, so a config stays
    right when the reference changes: it tightens the side where the metric gets worse.
    """

    min: float | None = None
    max: float | None = None
    max_drop: float | None = None

    def resolve(self, metric: str, reference: float | None) -> tuple[float | None, float | None]:
        """The effective (min, max); the stricter of a fixed side and reference -/+ max_drop.

        Without a reference value the relative side is unknown and left out.
        """
        if self.max_drop is None or reference is None:
            return self.min, self.max
        if metric in LOWER_IS_BETTER:
            limit = reference + self.max_drop
            return self.min, limit if self.max is None else min(self.max, limit)
        limit = reference - self.max_drop
        return (limit if self.min is None else max(self.min, limit)), self.max


@dataclass(frozen=True)
class SLOConfig:
    """The latency objective: share of predictions faster than a target."""

    latency_target_seconds: float | None = None
    objective: float = 0.99
    availability: float | None = None


@dataclass(frozen=True)
class LabelsConfig:
    """How long predictions wait for their labels, and how many may wait."""

    horizon_seconds: float = 86400.0
    max_pending: int = 200000


@dataclass(frozen=True)
class MultivariateConfig:
    """PCA reconstruction drift over the numeric features."""

    enabled: bool = True
    variance: float = 0.65


@dataclass(frozen=True)
class ModelConfig:
    """Everything the exporter knows about one model, defaults applied."""

    name: str
    task: Task
    features: tuple[FeatureConfig, ...]
    streams: StreamsConfig
    reference: ReferenceConfig
    positive_class: str | None = None
    classes: tuple[str, ...] | None = None
    window: WindowConfig = field(default_factory=WindowConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    prediction_drift: DriftSpec = field(default_factory=DriftSpec)
    performance: tuple[tuple[str, Bounds], ...] = ()
    slo: SLOConfig = field(default_factory=SLOConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    min_samples: int = 100
    drift_share: float = 0.5
    max_new_categories: int = 50
    max_versions: int = 20
    max_entry_bytes: int = 512 * 1024
    histogram_bins: int = 10
    drift_correction: str = "fdr_bh"
    learned_k: float = 3.0
    multivariate: MultivariateConfig = field(default_factory=MultivariateConfig)

    def feature(self, name: str) -> FeatureConfig:
        """The feature called name; KeyError names it when absent."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"model {self.name!r} has no feature {name!r}")


@dataclass(frozen=True)
class Config:
    """The whole validated config file."""

    redis: RedisConfig
    web: WebConfig
    models: tuple[ModelConfig, ...]
    log_level: str = "info"
