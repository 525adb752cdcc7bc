"""Server-side drill-down pages: HTML with inline SVG, or JSON, from the current snapshot."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote

from exporter.evaluate.snapshot import ModelSnapshot, SnapshotStore
from exporter.web.views import feature_view, model_view, models_view

Response = tuple[int, str, bytes]
HTML = "text/html; charset=utf-8"
JSON = "application/json"
STYLE = """body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;
text-align:left}.drifted{color:#b00020;font-weight:600}.muted{color:#777}
.ref{fill:#9e9e9e}.win{fill:#1565c0}.unseen{fill:#b00020}svg text{font-size:10px}"""


def e(value: object) -> str:
    """Escape anything a producer or the config may have named, quotes included."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def _page(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    ).encode("utf-8", "replace")


def _bars(h: dict[str, Any] | None, width: int, height: int, labels: bool) -> str:
    """Reference (grey) and window (blue, red where unseen) shares per bin, side by side."""
    if not h or not h["labels"]:
        return "<span class='muted'>no data</span>"
    n = len(h["labels"])
    top = max([*h["reference"], *h["window"], 1e-9])
    plot = height - (30 if labels else 0)
    step = width / n
    out = [f"<svg width='{width}' height='{height}' role='img'>"]
    for i, (r, w, unseen) in enumerate(zip(h["reference"], h["window"], h["unseen"], strict=True)):
        x = i * step
        rh, wh = plot * r / top, plot * w / top
        out.append(
            f"<rect class='ref' x='{x:.1f}' y='{plot - rh:.1f}' width='{step * 0.45:.1f}'"
            f" height='{rh:.1f}'><title>reference {r:.3f}</title></rect>"
        )
        cls = "unseen" if unseen else "win"
        out.append(
            f"<rect class='{cls}' x='{x + step * 0.45:.1f}' y='{plot - wh:.1f}' "
            f"width='{step * 0.45:.1f}' height='{wh:.1f}'><title>window {w:.3f}</title>"
            "</rect>"
        )
        if labels:
            mark = " (unseen)" if unseen else ""
            fits = max(3, int(step / 6))  # about 6 px per character at 10 px
            out.append(
                f"<text x='{x + 2:.1f}' y='{plot + 12}'>{e(h['labels'][i][:fits])}"
                f"<title>{e(h['labels'][i])}{mark}</title></text>"
            )
    return "".join(out) + "</svg>"


def _history(points: Sequence[dict[str, Any]], width: int = 640, height: int = 160) -> str:
    """The score over recent evaluations against its threshold (dashed)."""
    if len(points) < 2:
        return "<p class='muted'>history appears after two evaluations</p>"
    values = [p["score"] for p in points] + [p["threshold"] for p in points]
    lo, hi = min(values), max(values) or 1.0
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> str:
        x = i * (width - 10) / (len(points) - 1) + 5
        return f"{x:.1f},{height - 5 - (v - lo) / span * (height - 10):.1f}"

    score = " ".join(xy(i, p["score"]) for i, p in enumerate(points))
    limit = " ".join(xy(i, p["threshold"]) for i, p in enumerate(points))
    return (
        f"<svg width='{width}' height='{height}' role='img'>"
        f"<polyline points='{limit}' fill='none' stroke='#b00020' stroke-dasharray='4 3'/>"
        f"<polyline points='{score}' fill='none' stroke='#1565c0' stroke-width='2'/></svg>"
    )


def _models_html(view: dict[str, Any]) -> bytes:
    rows = []
    for m in view["models"]:
        link = f"<a href='/models/{quote(m['model'], safe='')}'>{e(m['model'])}</a>"
        if m.get("reference_note"):
            link += f"<br><span class='drifted'>{e(m['reference_note'])}</span>"
        if m.get("evaluated_at") is None:
            rows.append(
                f"<tr><td>{link}</td><td colspan='5' class='muted'>not evaluated yet</td></tr>"
            )
            continue
        cls = " class='drifted'" if m["dataset_drift"] else ""
        perf = ", ".join(f"{e(k)} {_num(v)}" for k, v in m["performance"].items())
        est = ", ".join(f"{e(k)} {_num(v)}" for k, v in m["estimated_performance"].items())
        rows.append(
            f"<tr><td>{link}</td><td{cls}>{_num(m['drift_share'])}</td>"
            f"<td>{e(', '.join(m['drifted_features']))}</td>"
            f"<td>{_num(m['max_missing_ratio'])}</td><td>{perf}</td><td>{est}</td>"
            f"<td>{m['window_samples']}</td></tr>"
        )
    head = (
        "<tr><th>model</th><th>drift share</th><th>drifted features</th>"
        "<th>max missing</th><th>realised</th><th>estimated</th><th>window</th></tr>"
    )
    return _page(
        "models",
        f"<h1>Models</h1><table>{head}{''.join(rows)}</table>"
        "<p><a href='/metrics'>/metrics</a></p>",
    )


def multivariate_view(s: ModelSnapshot) -> dict[str, Any]:
    """Joint drift, or why there is none, so a missing series is explained where people look."""
    d = s.multivariate_drift
    drift = (
        None
        if d is None
        else {"method": d.method, "score": d.score, "threshold": d.threshold, "drifted": d.drifted}
    )
    return {"drift": drift, "note": s.multivariate_note or None}


def _multivariate_html(view: dict[str, Any]) -> str:
    d, note = view["drift"], view["note"]
    if d is not None:
        cls = " class='drifted'" if d["drifted"] else ""
        return (
            f"<p{cls}>multivariate drift ({e(d['method'])}): score {_num(d['score'])}, "
            f"threshold {_num(d['threshold'])}</p>"
        )
    why = note or "not scored: fewer than min_samples records in the window"
    return f"<p class='muted'>multivariate drift: {e(why)}</p>"


def _model_html(view: dict[str, Any]) -> bytes:
    model = view["model"]
    rows = []
    for f in view["features"]:
        d = f["drift"] or {}
        cls = " class='drifted'" if d.get("drifted") else ""
        href = f"/models/{quote(model, safe='')}/features/{quote(f['feature'], safe='')}"
        rows.append(
            f"<tr><td{cls}><a href='{href}'>{e(f['feature'])}</a></td>"
            f"<td>{_bars(f['histogram'], 120, 28, False)}</td><td>{e(d.get('method'))}</td>"
            f"<td>{_num(d.get('score'))}</td><td>{_num(d.get('threshold'))}</td>"
            f"<td>{_num(d.get('p_value'))}</td><td>{_num(f['missing_ratio'])}</td>"
            f"<td>{_num(f['out_of_range_ratio'])}</td><td>{_num(f['unseen_category_ratio'])}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>feature</th><th>reference / window</th><th>method</th><th>score</th>"
        "<th>threshold</th><th>p-value</th><th>missing</th><th>out of range</th>"
        "<th>unseen</th></tr>"
    )
    return _page(
        model,
        f"<p><a href='/models'>models</a></p><h1>{e(model)}</h1>"
        f"<p>drift share {_num(view['drift_share'])}, window "
        f"{view['window_samples']} records</p>"
        + (
            f"<p class='drifted'>{e(view['reference_note'])}</p>"
            if view.get("reference_note")
            else ""
        )
        + f"{_multivariate_html(view['multivariate'])}"
        f"<table>{head}{''.join(rows)}</table>",
    )


def _feature_html(view: dict[str, Any]) -> bytes:
    model, d = view["model"], view["drift"] or {}
    back = f"/models/{quote(model, safe='')}"
    cls = "drifted" if d.get("drifted") else ""
    return _page(
        f"{model} / {view['feature']}",
        (
            f"<p><a href='/models'>models</a> / <a href='{back}'>{e(model)}</a></p>"
            f"<h1 class='{cls}'>{e(view['feature'])}</h1>"
            f"<p>{e(d.get('method'))}: score {_num(d.get('score'))}, threshold "
            f"{_num(d.get('threshold'))}, p-value {_num(d.get('p_value'))}</p>"
            "<h2>Reference (grey) and window (blue; red: unseen in the reference)</h2>"
            f"{_bars(view['histogram'], 720, 220, True)}"
            f"<h2>Score over recent evaluations (dashed: threshold)</h2>{_history(view['history'])}"
        ),
    )


def _json(body: dict[str, Any]) -> Response:
    return 200, JSON, json.dumps(body, default=_jsonable, allow_nan=False).encode()


def _jsonable(x: object) -> object:
    return None if isinstance(x, float) and not math.isfinite(x) else str(x)


def render(path: str, accept: str, store: SnapshotStore, names: Sequence[str]) -> Response | None:
    """The page for a /models path, or None when the path is not one of ours."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if not parts or parts[0] != "models":
        return None
    want_json = "application/json" in accept
    if len(parts) == 1:
        view = models_view(store, list(names))
        return _json(view) if want_json else (200, HTML, _models_html(view))
    snapshot = store.models.get(parts[1]) if parts[1] in names else None
    if snapshot is None:
        return 404, "text/plain; charset=utf-8", b"no such model, or not evaluated yet\n"
    if len(parts) == 2:
        view = {**model_view(snapshot), "multivariate": multivariate_view(snapshot)}
        return _json(view) if want_json else (200, HTML, _model_html(view))
    feature = next(
        (
            f
            for f in snapshot.features
            if len(parts) == 4 and parts[2] == "features" and f.name == parts[3]
        ),
        None,
    )
    if feature is None:
        return 404, "text/plain; charset=utf-8", b"no such feature\n"
    view = feature_view(store, snapshot, feature)
    return _json(view) if want_json else (200, HTML, _feature_html(view))
