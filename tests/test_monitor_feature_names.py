"""monitor() on unnamed columns: the producer's process is told once, by name of the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVER = """
import fakeredis, numpy as np
from exporter.client import PredictionLogger, monitor

class Model:  # fitted on a numpy array: classes_, no feature_names_in_
    classes_ = np.array([0, 1])
    def predict(self, x):
        return (np.asarray(x)[:, 0] > 100).astype(int)

fake = fakeredis.FakeRedis()
with PredictionLogger(fake, "fraud") as logger:
    model = monitor(Model(), logger, **KWARGS)
    for _ in range(3):
        model.predict(np.array([[120.0, 41.0], [30.0, 29.0]]))
print(sorted(__import__("orjson").loads(fake.xrange("mlmon:{fraud}:predictions")[0][1][b"batch"])[0]["features"]))
"""


def _serve(kwargs: str) -> subprocess.CompletedProcess[str]:
    """A model server with no logging configured, as the README's snippet runs."""
    return subprocess.run(
        [sys.executable, "-c", SERVER.replace("KWARGS", kwargs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_an_array_without_column_names_warns_once_on_stderr_naming_feature_names() -> None:
    """The records said x0, x1; the exporter counted every configured feature missing and
    nothing in the producer's process said why."""
    run = _serve("{}")
    assert run.stdout.strip() == "['x0', 'x1']"
    warnings = [line for line in run.stderr.splitlines() if "feature_names=" in line]
    assert len(warnings) == 1, run.stderr
    assert "x0..x1" in warnings[0] and "Model" in warnings[0]


def test_named_columns_log_those_names_without_a_warning() -> None:
    run = _serve('{"feature_names": ["amount", "age"]}')
    assert run.stdout.strip() == "['age', 'amount']"
    assert run.stderr == ""
