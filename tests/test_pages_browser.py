"""The drill-down pages in a real headless Chromium, on the demo's drifting model."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import free_port, require_tool, wait_for

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def _get(url: str, accept: str = "text/html") -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return bytes(resp.read())


def _chromium(browser: str, profile: Path, *args: str) -> str:
    result = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_chromium_shows_the_drifted_feature_first_and_the_pages_match_metrics(
        tmp_path: Path) -> None:
    browser = require_tool("chromium")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen([sys.executable, "-m", "exporter", "demo",
                             f"--web.listen-address=127.0.0.1:{port}", "--drift-after=5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: json.loads(_get(f"{base}/models/fraud", "application/json"))
                 ["dataset_drift"], 90, 0.5, "the demo's fraud model to drift")
        view = json.loads(_get(f"{base}/models/fraud", "application/json"))
        top = view["features"][0]
        assert top["drift"]["drifted"]
        metrics = _get(f"{base}/metrics").decode()
        series = (f'mlmon_feature_drift_score{{feature="{top["feature"]}",'
                  f'method="{top["drift"]["method"]}",model="fraud"}}')
        assert series in metrics

        dom = _chromium(browser, tmp_path / "profile", "--dump-dom", f"{base}/models/fraud")
        first = re.search(r"<tbody>.*?<a href=\"[^\"]+\">([^<]+)</a>|<tr><td[^>]*><a href=\"[^\"]+"
                          r"\">([^<]+)</a>", dom, re.S)
        assert first is not None and top["feature"] in first.groups()
        for name, path in (("models", "/models"), ("model", "/models/fraud"),
                           ("feature", f"/models/fraud/features/{top['feature']}")):
            shot = tmp_path / f"{name}.png"
            _chromium(browser, tmp_path / "profile", f"--screenshot={shot}",
                      "--window-size=1280,900", f"{base}{path}")
            assert shot.stat().st_size > 5000
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
