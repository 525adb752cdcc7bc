"""The web config's `http_server_config` and `rate_limit`, and the WSGI layer enforcing them.

- `headers`: only the five the exporter-toolkit allows (its list, its allowed values, names
  spelled exactly as there); a blank value leaves the header unset; a value with a control
  character (CR or LF would split the response) is refused.
- `http2`: cheroot speaks HTTP/1.1 only. `false` is what it does; `true` (the toolkit's
  default, so also an omitted key) is accepted, and when written out a warning says HTTP/1.1 is
  served: ALPN offers only http/1.1, so clients never expect HTTP/2.
- `rate_limit`: the toolkit's token bucket (one token per `interval`, `burst` at most), before
  authentication and for every path, the probes included; past it: 429.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from typing import Annotated, Any, Self
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from pydantic import BeforeValidator, model_validator

from exporter.config.keys import ConfigError, Section
from exporter.web.tlsconfig import boolean

# header -> the values allowed (None: any), as exporter-toolkit's web/handler.go
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_GO_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0
}  # fmt: skip
TEXT = "text/plain; charset=utf-8"
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def _headers(value: object) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError("", "must be a mapping of header name to value")
    found = []
    for name, raw in value.items():
        if name not in HEADERS:
            raise ConfigError(str(name), f"can not be configured (only {', '.join(HEADERS)})")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ConfigError(name, "must be a string")
        text = str(raw)
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text):
            raise ConfigError(name, "must not hold control characters (CR, LF...)")
        allowed = HEADERS[name]
        if text and allowed is not None and text not in allowed:
            raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {text!r}")
        if text:
            found.append((name, text))
    return tuple(found)


def go_duration(value: object) -> float:
    """Seconds of a Go duration ("1s", "1m30s", "250ms"; 0 alone is zero)."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0.0
    if isinstance(value, str):
        text = value.removeprefix("+")
        if text == "0":
            return 0.0
        if re.fullmatch(f"(?:{_GO_DURATION.pattern})+", text):
            return sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_DURATION.findall(text))
    raise ConfigError("", "must be a duration such as 1s, 500ms or 1m30s")


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError("", "must be a whole number, 0 or more")
    return value


class HTTPServerConfig(Section):
    """Response headers, and HTTP/2 (which this server does not speak)."""

    http2: Annotated[bool | None, BeforeValidator(boolean)] = None
    headers: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_headers)] = ()


class RateLimit(Section):
    """At most `burst` requests at once, refilled by one every `interval`; 0 s: no limit."""

    interval: Annotated[float, BeforeValidator(go_duration)] = 0.0
    burst: Annotated[int, BeforeValidator(_count)] = 0

    @model_validator(mode="after")
    def _useful(self) -> Self:
        if self.interval > 0 and self.burst < 1:
            raise ConfigError("burst", "must be 1 or more when interval is set (0 refuses all)")
        return self


class TokenBucket:
    """golang.org/x/time/rate's Limiter.Allow(): starts full, refills continuously."""

    def __init__(self, interval: float, burst: int) -> None:
        self._interval, self._burst = interval, float(burst)
        self._tokens, self._at = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Take a token if there is one."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._at) / self._interval)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class Guard:
    """WSGI: the rate limit first (before any password is hashed), then the extra headers."""

    def __init__(self, app: WSGIApplication, http: HTTPServerConfig, rate: RateLimit) -> None:
        self._app = app
        self._headers = list(http.headers)
        self._names = {name.lower() for name, _ in http.headers}
        self._bucket = TokenBucket(rate.interval, rate.burst) if rate.interval > 0 else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer 429 past the rate limit; add the configured headers to every answer."""

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            kept = [h for h in headers if h[0].lower() not in self._names]
            return start_response(status, kept + self._headers, *exc)

        if self._bucket is not None and not self._bucket.allow():
            body = b"too many requests\n"
            start("429 Too Many Requests", [("Content-Type", TEXT), ("Content-Length", "18")])
            return [body]
        return self._app(environ, start)
