"""The keys a model shares with defaults: window, schedule, slo, labels, multivariate, limits."""

import datetime
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, model_validator

from exporter.config.keys import ConfigError, Section, exactly_one
from exporter.config.scalars import (
    AtLeastOneSecond,
    Bins,
    Count,
    Duration,
    Flag,
    Fraction,
    Pending,
    Positive,
    PositiveInt,
    Samples,
    Share,
    Text,
    Version,
)


def cron_line(line: str) -> str:
    """Checked now, so a bad line fails at startup rather than at its first run."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(line, timezone=datetime.UTC)
    except ValueError as exc:
        raise ConfigError("", f"invalid cron line {line!r}: {exc}") from None
    return line


class WindowConfig(Section):
    """Bounds of the in-memory window; whichever is hit first wins."""

    duration_seconds: Duration = Field(3600.0, alias="duration")
    """Oldest prediction kept."""
    max_samples: Samples = 10000
    """Most predictions kept."""


class ScheduleConfig(Section):
    """When a model is evaluated: exactly one of interval or cron."""

    schema_rules = exactly_one("interval", "cron")  # null is unset, as yaml_rules counts them

    interval_seconds: AtLeastOneSecond | None = Field(60.0, alias="interval")
    """Time between two evaluations."""
    cron: Annotated[Text, AfterValidator(cron_line)] | None = None
    """A five-field crontab line, evaluated in UTC, e.g. */5 * * * *."""

    @classmethod
    def yaml_rules(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Exactly one key, so a model's schedule always replaces the default as a whole; a key
        set to null is unset (`{interval: null}` passed and then crashed every command)."""
        if (data.get("interval") is None) == (data.get("cron") is None):
            raise ConfigError("", "must set exactly one of: interval, cron")
        return {"interval": None, "cron": None, **data}

    @model_validator(mode="after")
    def _not_too_often(self) -> Self:
        """Under a second, evaluations pile up behind each other: `interval: 1ms` logged
        2,999 skipped-run warnings in 10 s and evaluated no more often."""
        if (self.interval_seconds is None) == (self.cron is None):  # built in code, not YAML
            raise ConfigError("", "must set exactly one of: interval, cron")
        if self.interval_seconds is not None and self.interval_seconds < 1.0:
            raise ConfigError("interval", f"must be at least 1s, got {self.interval_seconds}s")
        return self


class SLOConfig(Section):
    """The latency objective: the share of predictions faster than a target."""

    latency_target_seconds: Duration | None = Field(None, alias="latency_target")
    """Latency a prediction should beat; null disables the SLO."""
    objective: Fraction = 0.99
    """Share of predictions that should beat the target."""
    availability: Fraction | None = None
    """Share of predictions that should succeed, exported for burn-rate alerts."""


class LabelsConfig(Section):
    """Joining ground-truth labels to predictions."""

    horizon_seconds: Duration = Field(86400.0, alias="horizon")
    """How long a prediction waits for its label."""
    max_pending: Pending = 200000
    """Most predictions waiting for a label at once."""


class MultivariateConfig(Section):
    """Multivariate drift: PCA reconstruction error over the numeric features."""

    enabled: Flag = True
    """Compute it where it applies: when the kept components are fewer than the features."""
    variance: Fraction = 0.65
    """Share of the reference variance the kept components explain."""


class ChangeConfig(Section):
    """Sequential change detection (CUSUM) on errors, scores and chosen numeric features."""

    enabled: Flag = True
    """Watch every labelled prediction's error, and every score or numeric prediction."""
    features: tuple[Text, ...] = ()
    """Numeric features whose values are watched too (how often they pass the reference's
    outer tenths)."""
    error_rise: Fraction = 0.1
    """The rise of the error rate above the reference's to detect fastest (a regressor errs
    when its absolute error passes the reference's 90th percentile)."""
    threshold: Positive = 11.5
    """Log-likelihood-ratio threshold: at most one false detection per e**threshold stationary
    labelled predictions (11.5: about one per 100,000)."""


class VersionsConfig(Section):
    """Comparing each challenger version with the champion over the same window."""

    champion: Version | None = None
    """The version challengers are compared with while it has traffic in the window; default
    (and in its absence): the one with most traffic when first chosen, kept while it has some."""
    alpha: Fraction = 0.05
    """Significance level of the one-sided test that a challenger is worse."""
    min_labeled: PositiveInt = 200
    """Labelled predictions each version needs before it is compared."""


class Settings(Section):
    """What defaults: may set for every model; window, slo, labels, multivariate merge by key."""

    window: WindowConfig = Field(default_factory=WindowConfig)
    """The in-memory window of recent predictions; merged key by key with defaults.window."""
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    """When the model is evaluated; replaces defaults.schedule as a whole."""
    slo: SLOConfig = Field(default_factory=SLOConfig)
    """The latency objective; merged key by key with defaults.slo."""
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    """Joining ground-truth labels to predictions; merged key by key with defaults.labels."""
    multivariate: MultivariateConfig = Field(default_factory=MultivariateConfig)
    """Multivariate drift; merged key by key with defaults.multivariate."""
    min_samples: PositiveInt = 100
    """Fewer present values than this in the window and a column's drift is not exported (nor
    realised performance with fewer labelled predictions); data quality still is."""
    drift_share: Share = 0.5
    """A model counts as drifted when at least this share of its features drift."""
    max_new_categories: Count = 50
    """Unseen categories tracked per categorical feature before the rest are lumped together."""
    max_versions: PositiveInt = 20
    """Model versions tracked per model at once; a version with no record left in the window
    or waiting for a label gives its slot to the next new one; past the cap, __other__."""
    max_entry_bytes: PositiveInt = 512 * 1024
    """Larger stream entries are rejected as malformed."""
    histogram_bins: Bins = 10
    """Bins of numeric histograms (PSI and the exported distributions)."""
    versions: VersionsConfig = Field(default_factory=VersionsConfig)
    """Version comparison; merged key by key with defaults.versions."""
    change: ChangeConfig = Field(default_factory=ChangeConfig)
    """Change detection on labelled errors; merged key by key with defaults.change."""

    def layered_over(self, defaults: "Settings") -> dict[str, Any]:
        """These settings over defaults': keys not set here come from defaults."""
        merged: dict[str, Any] = {}
        for name in Settings.model_fields:
            own, base = getattr(self, name), getattr(defaults, name)
            if name not in self.model_fields_set:
                merged[name] = base
            elif name in ("window", "slo", "labels", "multivariate", "versions", "change"):
                merged[name] = base.model_copy(
                    update={k: getattr(own, k) for k in own.model_fields_set}
                )
            else:
                merged[name] = own
        return merged
