"""Server-side drill-down pages: HTML with inline SVG, or JSON, from the current snapshot.

The markup lives in templates/ and is rendered by Jinja2 with autoescape on, so every name a
producer or the config chose (models, features, categories, methods, notes) is escaped
wherever it lands (text, attribute or SVG tooltip) without a call to remember at each spot.
StrictUndefined turns a misspelt field into an error in the tests instead of an empty cell.
Python keeps the data shaping (views.py) and the chart geometry (below).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from exporter.evaluate.snapshot import SnapshotStore
from exporter.stats.embedding import EMBEDDING_METHODS
from exporter.web.views import feature_view, model_view, models_view, multivariate_view

Response = tuple[int, str, bytes]
HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Bar:
    """One rectangle of a histogram; coordinates are preformatted as the SVG carries them."""

    cls: str
    x: str
    y: str
    width: str
    height: str
    tip: str


@dataclass(frozen=True)
class BinLabel:
    """A bin's name under its bars, cut to fit, with the whole name as its tooltip."""

    x: str
    y: int
    short: str
    tip: str


@dataclass(frozen=True)
class Bin:
    """The reference bar, the window bar and, on the large chart, the label of one bin."""

    bars: tuple[Bar, Bar]
    label: BinLabel | None


@dataclass(frozen=True)
class BarChart:
    """Reference and window shares side by side, scaled to the tallest share."""

    width: int
    height: int
    bins: tuple[Bin, ...]


@dataclass(frozen=True)
class LineChart:
    """The score and its threshold as SVG polyline point lists."""

    width: int
    height: int
    score: str
    limit: str


def num(x: float | None, digits: int = 4) -> str:
    """A value as the pages print it: 4 significant digits, a dash where there is none."""
    return "–" if x is None else f"{x:.{digits}g}"


def pathpart(name: str) -> str:
    """A name as one URL path segment: '/' too is quoted, as render() unquotes per segment."""
    return quote(name, safe="")


def bar_chart(h: dict[str, Any] | None, width: int, height: int, labels: bool) -> BarChart | None:
    """Reference (grey) and window (blue, red where unseen) shares per bin; None: no data."""
    if not h or not h["labels"]:
        return None
    top = max([*h["reference"], *h["window"], 1e-9])
    plot = height - (30 if labels else 0)
    step = width / len(h["labels"])
    fits = max(3, int(step / 6))  # about 6 px per character at 10 px
    bins = []
    for i, (r, w, unseen) in enumerate(zip(h["reference"], h["window"], h["unseen"], strict=True)):
        x, rh, wh, name = i * step, plot * r / top, plot * w / top, h["labels"][i]
        ref = Bar(
            "ref",
            f"{x:.1f}",
            f"{plot - rh:.1f}",
            f"{step * 0.45:.1f}",
            f"{rh:.1f}",
            f"reference {r:.3f}",
        )
        win = Bar(
            "unseen" if unseen else "win",
            f"{x + step * 0.45:.1f}",
            f"{plot - wh:.1f}",
            f"{step * 0.45:.1f}",
            f"{wh:.1f}",
            f"window {w:.3f}",
        )
        tip = name + (" (unseen)" if unseen else "")
        label = BinLabel(f"{x + 2:.1f}", plot + 12, name[:fits], tip) if labels else None
        bins.append(Bin((ref, win), label))
    return BarChart(width, height, tuple(bins))


def history_chart(
    points: Sequence[dict[str, Any]], width: int = 640, height: int = 160
) -> LineChart | None:
    """The score over recent evaluations against its threshold; None before two points."""
    if len(points) < 2:
        return None
    values = [p["score"] for p in points] + [p["threshold"] for p in points]
    lo, hi = min(values), max(values) or 1.0
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> str:
        x = i * (width - 10) / (len(points) - 1) + 5
        return f"{x:.1f},{height - 5 - (v - lo) / span * (height - 10):.1f}"

    score = " ".join(xy(i, p["score"]) for i, p in enumerate(points))
    limit = " ".join(xy(i, p["threshold"]) for i, p in enumerate(points))
    return LineChart(width, height, score, limit)


# Built once at import; each template compiles on first use and stays cached in ENV.
# autoescape covers .html templates, which all pages are; trim/lstrip keep the block tags from
# leaving blank lines, and no markup is ever marked safe by hand, the charts included.
ENV = Environment(
    loader=PackageLoader("exporter.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(num=num, pathpart=pathpart)
ENV.globals.update(
    bar_chart=bar_chart, history_chart=history_chart, embedding_methods=frozenset(EMBEDDING_METHODS)
)


def root_of(path: str) -> str:
    """The relative way from a page at `path` back to the root, which every link starts with:
    a proxy serving the pages under a prefix (web.external_url's path) keeps them under it."""
    return "../" * (path.count("/") - 1) or "./"


def _html(template: str, title: str, path: str, **view: Any) -> Response:
    body = ENV.get_template(template).render(title=title, root=root_of(path), **view)
    return 200, HTML, body.encode("utf-8", "replace")


def _json(body: dict[str, Any]) -> Response:
    # default=str only sees types json cannot write (never floats: NaN raises with
    # allow_nan=False before any default), so the views must hand over finite numbers or None.
    return 200, JSON, json.dumps(body, default=str, allow_nan=False).encode()


def render(
    path: str,
    accept: str,
    store: SnapshotStore,
    names: Sequence[str],
    telemetry: str = "/metrics",
) -> Response | None:
    """The page for a /models path, or None when the path is not one of ours; the models page
    links to the metrics at `telemetry` (--web.telemetry-path). Links are relative to `path`."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if not parts or parts[0] != "models":
        return None
    want_json = "application/json" in accept
    if len(parts) == 1:
        view = models_view(store, list(names))
        if want_json:
            return _json(view)
        return _html("models.html", "models", path, telemetry=telemetry.lstrip("/"), **view)
    snapshot = store.models.get(parts[1]) if parts[1] in names else None
    if snapshot is None:
        return 404, TEXT, b"no such model, or not evaluated yet\n"
    if len(parts) == 2:
        view = {**model_view(snapshot), "multivariate": multivariate_view(snapshot)}
        return _json(view) if want_json else _html("model.html", snapshot.model, path, **view)
    feature = next(
        (
            f
            for f in snapshot.features
            if len(parts) == 4 and parts[2] == "features" and f.name == parts[3]
        ),
        None,
    )
    if feature is None:
        return 404, TEXT, b"no such feature\n"
    view = feature_view(store, snapshot, feature)
    title = f"{snapshot.model} / {feature.name}"
    return _json(view) if want_json else _html("feature.html", title, path, **view)
