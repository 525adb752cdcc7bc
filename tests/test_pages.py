"""Drill-down pages: the drifted feature first, the same numbers as /metrics, names escaped."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import load_config_text
from exporter.daemon import Daemon
from exporter.web.pages import render
from tests.helpers import CATEGORIES, model_yaml, records, sample, write_reference

HOSTILE = '<script>alert("x")</script>'


def _daemon(tmp_path: Path, shift: bool) -> Daemon:
    rng = np.random.default_rng(50)
    write_reference(tmp_path / "ref.csv", sample(rng, 3000))
    config = load_config_text(
        "redis: {url: 'redis://127.0.0.1:1/0'}\n"
        "web: {listen_address: '127.0.0.1:0'}\nmodels:" + model_yaml("m"),
        base_dir=str(tmp_path),
    )
    daemon = Daemon(config, registry=CollectorRegistry())
    now_ms = int(time.time() * 1000)
    rows = records(sample(rng, 2000, shift=shift))
    rows += [
        orjson.dumps({"features": {"x1": 0.0, "c1": f"{HOSTILE}'{i}"}, "prediction": 0.0})
        for i in range(50)
    ]
    daemon.pipelines[0].ingest_predictions(
        [(f"{now_ms + i}-0".encode(), {b"data": p}) for i, p in enumerate(rows)]
    )
    for _ in range(3):
        assert daemon.pipelines[0].evaluate(None)
    return daemon


def _get(daemon: Daemon, path: str, accept: str = "text/html") -> tuple[int, str, bytes]:
    found = render(path, accept, daemon.store, [m.name for m in daemon.config.models])
    assert found is not None
    return found


def test_the_model_page_lists_the_most_drifted_feature_first_with_metrics_numbers(
    tmp_path: Path,
) -> None:
    daemon = _daemon(tmp_path, shift=True)
    status, kind, body = _get(daemon, "/models/m", "application/json")
    assert status == 200 and kind == "application/json"
    view = json.loads(body)
    assert view["features"][0]["feature"] in ("x2", "c1")
    assert view["features"][0]["drift"]["drifted"]
    for row in view["features"]:
        if row["drift"] is not None:
            labels = {"model": "m", "feature": row["feature"], "method": row["drift"]["method"]}
            assert row["drift"]["score"] == daemon.registry.get_sample_value(
                "mlmon_feature_drift_score", labels
            )
    page = _get(daemon, "/models/m")[2].decode()
    assert page.index(">x2<") < page.index(">x3<")


def test_the_feature_page_overlays_both_histograms_and_keeps_the_score_history(
    tmp_path: Path,
) -> None:
    daemon = _daemon(tmp_path, shift=True)
    view = json.loads(_get(daemon, "/models/m/features/c1", "application/json")[2])
    h = view["histogram"]
    shares = dict(zip(h["labels"], h["reference"], strict=False))
    assert h["labels"][:4] == sorted(CATEGORIES, key=lambda c: -shares[c])
    assert any(h["unseen"]) and abs(sum(h["window"]) - 1) < 1e-9
    assert len(view["history"]) == 3
    page = _get(daemon, "/models/m/features/c1")[2].decode()
    assert page.count("<svg") == 2 and "class='unseen'" in page


def test_names_from_producers_are_escaped_everywhere(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, shift=False)
    for path in ("/models", "/models/m", "/models/m/features/c1"):
        body = _get(daemon, path)[2].decode()
        assert "<script>" not in body
    # Whichever entities the escaper picks, the page shows the value as the producer sent it.
    shown = html.unescape(_get(daemon, "/models/m/features/c1")[2].decode())
    assert f"<title>{HOSTILE}'" in shown


def test_unknown_models_and_features_are_not_found(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, shift=False)
    assert _get(daemon, "/models/nope")[0] == 404
    assert _get(daemon, "/models/m/features/nope")[0] == 404
    assert render("/metrics", "", daemon.store, ["m"]) is None


def test_the_models_page_links_to_the_metrics_where_the_telemetry_path_serves_them(
    tmp_path: Path,
) -> None:
    """It linked to /metrics, a 404 under --web.telemetry-path=/custom."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(51), 300))
    config = load_config_text(
        "redis: {url: 'redis://127.0.0.1:1/0'}\n"
        "web: {listen_address: '127.0.0.1:0'}\nmodels:" + model_yaml("m"),
        base_dir=str(tmp_path),
    )
    daemon = Daemon(config, registry=CollectorRegistry(), telemetry_path="/custom")
    page = daemon._page("/models", "text/html")
    assert page is not None and page[0] == 200
    assert b"href='./custom'" in page[2] and b"/metrics" not in page[2]


def test_every_link_on_the_pages_leads_to_a_page_directly_and_under_a_proxy_prefix(
    tmp_path: Path,
) -> None:
    """Links were absolute (/models/...), so behind a proxy serving /mlmon/ every one 404ed."""
    daemon = _daemon(tmp_path, shift=True)
    pages = ["/models", "/models/", "/models/m", "/models/m/features/x1", "/models/m/features/c1"]
    for prefix in ("", "/mlmon"):
        for page in pages:
            body = _get(daemon, page)[2].decode()
            links = [html.unescape(h) for h in re.findall(r"href='([^']*)'", body)]
            assert links, page
            for link in links:
                target = urlsplit(urljoin(f"http://proxy{prefix}{page}", link)).path
                assert target.startswith(prefix + "/"), (prefix, page, link)
                path = target.removeprefix(prefix)
                assert path == "/metrics" or _get(daemon, path)[0] == 200, (page, link)
