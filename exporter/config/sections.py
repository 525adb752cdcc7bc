"""Parsers for the plain config sections: redis, web, window, schedule, slo and labels."""

from __future__ import annotations

import datetime
import os
import re
from urllib.parse import urlsplit

from exporter.config.model import (
    LabelsConfig,
    RedisConfig,
    ScheduleConfig,
    SLOConfig,
    TLSConfig,
    WebConfig,
    WindowConfig,
)
from exporter.config.values import (
    ConfigError,
    duration,
    fraction,
    join,
    mapping,
    optional,
    optional_duration,
    optional_string,
    positive_int,
    required,
    string,
)

REDIS_KEYS = (
    "url",
    "username",
    "password",
    "password_file",
    "tls",
    "socket_timeout",
    "read_count",
    "block",
    "backoff_max",
    "check_interval",
)
TLS_KEYS = ("ca_file", "cert_file", "key_file")
WEB_KEYS = ("listen_address", "external_url")
WINDOW_KEYS = ("duration", "max_samples")
SCHEDULE_KEYS = ("interval", "cron")
SLO_KEYS = ("latency_target", "objective", "availability")
LABELS_KEYS = ("horizon", "max_pending")

_PORT = re.compile(r"[0-9]{1,5}")


def redis_url(value: object, path: str) -> str:
    """A redis:// or rediss:// URL; errors never echo it since it may hold a password."""
    text = string(value, path)
    parts = urlsplit(text)
    if parts.scheme not in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        raise ConfigError(
            path,
            "must start with redis://, rediss:// or (for a Redis Cluster) "
            "redis+cluster:// or rediss+cluster://",
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(path, f"invalid port ({exc})") from None
    if not parts.hostname:
        raise ConfigError(path, "must name a host, e.g. redis://localhost:6379/0")
    return text


def file_path(base_dir: str, value: object, path: str) -> str | None:
    """An optional file path; relative paths are taken from the config file's directory."""
    text = optional_string(value, path)
    if text is None:
        return None
    text = os.path.expanduser(text)
    return text if os.path.isabs(text) else os.path.normpath(os.path.join(base_dir, text))


def secret(value: object, path: str) -> str | None:
    """An optional secret string; unlike other readers, errors never echo the value."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(path, "must be a string (quote it in YAML)")
    return value


def secret_file(base_dir: str, value: object, path: str) -> str | None:
    """An optional path of a file holding a secret (a mounted Secret); it must exist."""
    found = regular_file(base_dir, value, path)
    if found is not None and not os.path.isfile(found):
        raise ConfigError(path, f"no such file: {found}")
    return found


def regular_file(base_dir: str, value: object, path: str) -> str | None:
    """An optional file path that, if it exists, is a regular file.

    Redis TLS files are read by OpenSSL at every connection, without a timeout: a FIFO
    there would hang the stream reader, and a device would feed it without end.
    """
    found = file_path(base_dir, value, path)
    if found is not None and os.path.exists(found) and not os.path.isfile(found):
        raise ConfigError(path, f"not a regular file: {found}")
    return found


def parse_tls(value: object, path: str, base_dir: str) -> TLSConfig:
    """The redis.tls section."""
    raw = mapping(value, path, TLS_KEYS)

    def read(key: str) -> str | None:
        return optional(raw, path, key, lambda v, p: regular_file(base_dir, v, p), None)

    return TLSConfig(
        ca_file=read("ca_file"), cert_file=read("cert_file"), key_file=read("key_file")
    )


def parse_redis(value: object, path: str, base_dir: str) -> RedisConfig:
    """The redis section; TLS files without a rediss:// URL are an error, not silently plain."""
    raw = mapping(value, path, REDIS_KEYS)
    base = RedisConfig()
    url = optional(raw, path, "url", redis_url, base.url)
    tls = optional(raw, path, "tls", lambda v, p: parse_tls(v, p, base_dir), base.tls)
    if tls != TLSConfig() and not url.startswith(("rediss://", "rediss+cluster://")):
        raise ConfigError(
            join(path, "tls"), "is set, but redis.url does not use rediss:// or rediss+cluster://"
        )
    block = optional(raw, path, "block", duration, base.block_ms / 1000)
    if block < 0.001:
        raise ConfigError(join(path, "block"), f"must be at least 1ms, got {block}s")
    check = optional(raw, path, "check_interval", duration, base.check_interval_seconds)
    if check < 0.1:
        raise ConfigError(join(path, "check_interval"), f"must be at least 100ms, got {check}s")
    timeout = optional(raw, path, "socket_timeout", duration, base.socket_timeout_seconds)
    password = optional(raw, path, "password", secret, base.password)
    password_file = optional(
        raw, path, "password_file", lambda v, p: secret_file(base_dir, v, p), base.password_file
    )
    if password is not None and password_file is not None:
        raise ConfigError(join(path, "password_file"), "and redis.password are both set")
    return RedisConfig(
        url=url,
        username=optional(raw, path, "username", optional_string, base.username),
        password=password,
        password_file=password_file,
        tls=tls,
        socket_timeout_seconds=timeout,
        read_count=optional(raw, path, "read_count", positive_int, base.read_count),
        block_ms=round(block * 1000),
        backoff_max_seconds=optional(raw, path, "backoff_max", duration, base.backoff_max_seconds),
        check_interval_seconds=check,
    )


def listen_address(value: object, path: str) -> str:
    """HOST:PORT (host may be empty or bracketed IPv6); port 0 picks a free one, as tests need."""
    text = string(value, path)
    host, _, port = text.rpartition(":")
    if not _PORT.fullmatch(port) or not 0 <= int(port) <= 65535:
        raise ConfigError(path, f"must be HOST:PORT with a port from 0 to 65535, got {text!r}")
    if ":" in host and not (host.startswith("[") and host.endswith("]")):
        raise ConfigError(path, f"IPv6 hosts must be in brackets, e.g. [::]:10135, got {text!r}")
    return text


def parse_web(value: object, path: str) -> WebConfig:
    """The web section."""
    raw = mapping(value, path, WEB_KEYS)
    base = WebConfig()
    return WebConfig(
        listen_address=optional(raw, path, "listen_address", listen_address, base.listen_address),
        external_url=optional(raw, path, "external_url", external_url, base.external_url),
    )


def external_url(value: object, path: str) -> str:
    """Where users reach the exporter (behind an ingress); links in alerts start with it."""
    if value == "":
        return ""
    text = string(value, path).rstrip("/")
    parts = urlsplit(text)
    if text and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ConfigError(path, f"must be an http:// or https:// URL, got {text!r}")
    return text


def parse_window(value: object, path: str, base: WindowConfig) -> WindowConfig:
    """A window section; keys it omits keep base's values."""
    raw = mapping(value, path, WINDOW_KEYS)
    return WindowConfig(
        duration_seconds=optional(raw, path, "duration", duration, base.duration_seconds),
        max_samples=optional(raw, path, "max_samples", positive_int, base.max_samples),
    )


def cron_line(value: object, path: str) -> str:
    """A crontab line APScheduler accepts, so a bad one fails at startup, not at first run."""
    from apscheduler.triggers.cron import CronTrigger

    text = string(value, path)
    try:
        CronTrigger.from_crontab(text, timezone=datetime.UTC)
    except ValueError as exc:
        raise ConfigError(path, f"invalid cron line {text!r}: {exc}") from None
    return text


def parse_schedule(value: object, path: str) -> ScheduleConfig:
    """A schedule section: exactly one of interval or cron, so it always replaces as a whole."""
    raw = mapping(value, path, SCHEDULE_KEYS)
    if ("interval" in raw) == ("cron" in raw):
        raise ConfigError(path, "must set exactly one of: interval, cron")
    if "cron" in raw:
        return ScheduleConfig(interval_seconds=None, cron=required(raw, path, "cron", cron_line))
    return ScheduleConfig(interval_seconds=required(raw, path, "interval", duration), cron=None)


def parse_slo(value: object, path: str, base: SLOConfig) -> SLOConfig:
    """An slo section; keys it omits keep base's values."""
    raw = mapping(value, path, SLO_KEYS)
    target = optional(raw, path, "latency_target", optional_duration, base.latency_target_seconds)
    return SLOConfig(
        latency_target_seconds=target,
        objective=optional(raw, path, "objective", fraction, base.objective),
        availability=optional(raw, path, "availability", fraction, base.availability),
    )


def parse_labels(value: object, path: str, base: LabelsConfig) -> LabelsConfig:
    """A labels section; keys it omits keep base's values."""
    raw = mapping(value, path, LABELS_KEYS)
    return LabelsConfig(
        horizon_seconds=optional(raw, path, "horizon", duration, base.horizon_seconds),
        max_pending=optional(raw, path, "max_pending", positive_int, base.max_pending),
    )
