"""The examples work: a served scikit-learn model, a label feeder and redis-cli by hand."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

from prometheus_client import CollectorRegistry

from exporter.client import PredictionLogger, monitor
from exporter.config import load_config
from exporter.daemon import Daemon
from tests.conftest import RedisServer, require_tool, wait_for
from tests.helpers import value

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _post(port: int, body: Any) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def _invalid(daemon: Daemon) -> float:
    return sum(
        s.value
        for m in daemon.registry.collect()
        for s in m.samples
        if s.name == "mlmon_records_invalid_total"
    )


def test_the_examples_feed_the_exporter_valid_records_and_labels_that_all_join(
    redis_server: RedisServer,
) -> None:
    require_tool("redis-cli")
    server_example, feeder = _module("sklearn_server"), _module("label_feeder")
    config = load_config(
        str(EXAMPLES / "config.yaml"),
        {"REDIS_URL": redis_server.url, "LISTEN_ADDRESS": "127.0.0.1:0"},
    )
    with (ROOT / "config" / "reference" / "fraud.csv").open(newline="") as fh:
        rows = [row for _, row in zip(range(30), csv.DictReader(fh), strict=False)]
    daemon = Daemon(config, registry=CollectorRegistry())
    daemon.start()
    try:
        with PredictionLogger(redis_server.url, "fraud", version="logreg-1") as logger:
            server = server_example.make_server(
                monitor(server_example.train(), logger), ("127.0.0.1", 0)
            )
            threading.Thread(target=server.serve_forever, daemon=True).start()
            port = server.server_address[1]
            answers = _post(
                port,
                [
                    {
                        "id": f"web-{i}",
                        "features": {
                            "amount": float(r["amount"]),
                            "age": float(r["age"]),
                            "country": r["country"],
                            "channel": r["channel"],
                        },
                    }
                    for i, r in enumerate(rows)
                ],
            )
            one = _post(
                port,
                {
                    "id": "web-x",
                    "features": {"amount": 10.0, "age": 30.0, "country": "DE", "channel": "web"},
                },
            )
            server.shutdown()
            assert [a["id"] for a in answers] == [f"web-{i}" for i in range(30)]
            assert {a["prediction"] for a in [*answers, one]} <= {0, 1}
            assert logger.flush(10)
        wait_for(
            lambda: (
                value(daemon, "mlmon_predictions_total", model="fraud", version="logreg-1") == 31
            ),
            what="31 served predictions read",
        )
        with PredictionLogger(redis_server.url, "fraud") as labels:
            lines = ["id,label"] + [f"web-{i},{r['label']}" for i, r in enumerate(rows)]
            assert feeder.feed(labels, lines) == 30
        subprocess.run(
            ["bash", str(EXAMPLES / "feed_with_redis_cli.sh")],
            check=True,
            timeout=60,
            env={**os.environ, "REDIS_URL": redis_server.url},
            capture_output=True,
        )
        wait_for(
            lambda: value(daemon, "mlmon_labels_total", model="fraud") == 33,
            what="30 fed and 3 hand-written labels read",
        )
        assert value(daemon, "mlmon_predictions_total", model="fraud", version="by-hand") == 4
        assert value(daemon, "mlmon_prediction_errors_total", model="fraud", version="by-hand") == 1
        assert value(daemon, "mlmon_labels_unmatched_total", model="fraud") == 0
        assert _invalid(daemon) == 0
    finally:
        daemon.stop()


def test_the_sklearn_example_without_scikit_learn_says_to_install_it() -> None:
    """The README's install has no scikit-learn: the example died with `No module named
    'sklearn'` and no doc said to install it."""
    hide_sklearn = (
        "import runpy, sys; sys.modules['sklearn'] = None; "
        "sys.argv = ['sklearn_server.py', '--help']; "
        "runpy.run_path('examples/sklearn_server.py', run_name='__main__')"
    )
    run = subprocess.run(
        [sys.executable, "-c", hide_sklearn],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "pip install scikit-learn" in run.stderr.strip().splitlines()[-1], run.stderr
    docs = (EXAMPLES / "sklearn_server.py").read_text().split('"""')[1]
    for page in (docs, (ROOT / "README.md").read_text(), (ROOT / "docs/client.md").read_text()):
        assert "pip install scikit-learn" in page
