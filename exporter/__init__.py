"""ml-monitoring-exporter: drift, data quality and model performance from Redis streams."""

import os

__version__ = "0.1.0"
# Set when the image is built (see the Dockerfile); a source install knows neither.
REVISION_ENV, BUILD_DATE_ENV = "MLMON_REVISION", "MLMON_BUILD_DATE"


def revision() -> str:
    """The source revision the image was built from, or "unknown"; --version and build_info."""
    return os.environ.get(REVISION_ENV, "").strip() or "unknown"


def build_date() -> str:
    """When the image was built, or "" for a source install."""
    return os.environ.get(BUILD_DATE_ENV, "").strip()
