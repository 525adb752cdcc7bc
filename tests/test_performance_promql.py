"""PromQL over the counters gives the accuracy, MAE and R2 of the gauges, in a real Prometheus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from exporter.config import load_config_text
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import running, value, xadd_all
from tests.promstack import start_prometheus

pytestmark = pytest.mark.integration
ROWS = 300
RANGE = "10m"
ACCURACY = (
    f'sum by (model) (increase(mlmon_labeled_predictions_total{{model="clf"}}[{RANGE}])'
    " and on (model, actual, predicted) label_replace(sum by (model, actual)"
    ' (mlmon_labeled_predictions_total{model="clf"}), "predicted", "$1", "actual", "(.*)"))'
    f' / sum by (model) (increase(mlmon_labeled_predictions_total{{model="clf"}}[{RANGE}]))'
)
MAE = (
    f'increase(mlmon_regression_absolute_error_total{{model="reg"}}[{RANGE}])'
    f' / increase(mlmon_regression_labeled_total{{model="reg"}}[{RANGE}])'
)
_REG = f'{{model="reg"}}[{RANGE}])'
R2 = (
    f"1 - increase(mlmon_regression_squared_error_total{_REG}"
    f" / (increase(mlmon_regression_target_squared_total{_REG}"
    f" - (increase(mlmon_regression_target_positive_total{_REG}"
    f" - increase(mlmon_regression_target_negative_total{_REG}) ^ 2"
    f" / increase(mlmon_regression_labeled_total{_REG})"
)


def _config(tmp_path: Path, redis_url: str, port: int) -> str:
    rng = np.random.default_rng(5)
    rows = ["x1,prediction,label,score"]
    for x in rng.normal(0, 1, 500):
        p = float(1 / (1 + np.exp(-2 * x)))
        rows.append(f"{x},{int(p >= 0.5)},{int(rng.uniform() < p)},{p}")
    (tmp_path / "clf.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "reg.csv").write_text(
        "x1,prediction,label\n" + "".join(f"{x},{x},{x + 0.1}\n" for x in rng.normal(0, 1, 500))
    )
    common = (
        "window: {duration: 1d}\n    schedule: {interval: 1s}\n    min_samples: 50\n"
        "    features: [{name: x1, type: numeric}]"
    )
    return (
        f"redis: {{url: '{redis_url}'}}\nweb: {{listen_address: '127.0.0.1:{port}'}}\n"
        "models:\n"
        f"  - name: clf\n    task: binary_classification\n    positive_class: '1'\n"
        f"    classes: ['0', '1']\n    reference: {{file: clf.csv}}\n    {common}\n"
        f"  - name: reg\n    task: regression\n    reference: {{file: reg.csv}}\n"
        f"    {common}\n"
    )


def _scalar(result: list[dict[str, object]]) -> float | None:
    if len(result) != 1:
        return None
    return float(result[0]["value"][1])  # type: ignore[index]


def test_promql_over_the_counters_matches_the_accuracy_mae_and_r2_gauges_with_negative_labels(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    port = free_port()
    config = load_config_text(_config(tmp_path, redis_server.url, port), base_dir=str(tmp_path))
    client = redis_server.client()
    rng = np.random.default_rng(6)
    with running(config) as daemon:
        prom = start_prometheus(tmp_path, [f"127.0.0.1:{daemon.http.port}"])
        try:
            wait_for(
                lambda: (
                    _scalar(
                        prom.query(
                            'sum(mlmon_labeled_predictions_total{model="clf"}) + '
                            'sum(mlmon_regression_labeled_total{model="reg"})'
                        )
                    )
                    == 0.0
                ),
                30,
                what="prometheus scraping the zeroed counters",
            )
            x = rng.normal(0, 1, ROWS)
            p = 1 / (1 + np.exp(-2 * x))
            preds = [
                orjson.dumps(
                    {
                        "id": f"c{i}",
                        "features": {"x1": float(x[i])},
                        "prediction": int(p[i] >= 0.5),
                        "scores": float(p[i]),
                    }
                )
                for i in range(ROWS)
            ]
            labels = [
                orjson.dumps({"id": f"c{i}", "label": int(rng.uniform() < p[i])})
                for i in range(ROWS)
            ]
            xadd_all(client, "mlmon:{clf}:predictions", preds)
            xadd_all(client, "mlmon:{clf}:labels", labels)
            xadd_all(
                client,
                "mlmon:{reg}:predictions",
                [
                    orjson.dumps(
                        {"id": f"r{i}", "features": {"x1": float(x[i])}, "prediction": float(x[i])}
                    )
                    for i in range(ROWS)
                ],
            )
            xadd_all(
                client,
                "mlmon:{reg}:labels",
                [
                    orjson.dumps({"id": f"r{i}", "label": float(x[i] + rng.normal(0, 1))})
                    for i in range(ROWS)
                ],
            )
            wait_for(
                lambda: (
                    value(daemon, "mlmon_label_coverage_ratio", model="clf") == 1.0
                    and value(daemon, "mlmon_label_coverage_ratio", model="reg") == 1.0
                ),
                60,
                what="both models evaluated with every label joined",
            )
            accuracy = value(
                daemon, "mlmon_model_performance_ratio", model="clf", metric="accuracy"
            )
            mae = value(daemon, "mlmon_model_regression_error", model="reg", metric="mae")
            r2 = value(daemon, "mlmon_model_performance_ratio", model="reg", metric="r2")
            assert accuracy is not None and mae is not None and r2 is not None
            assert value(daemon, "mlmon_regression_target_negative_total", model="reg") > 0
            for name, labels in (
                ("mlmon_model_performance_estimated_ratio", {"metric": "accuracy"}),
                ("mlmon_model_performance_estimation_error_ratio", {"metric": "f1"}),
                ("mlmon_model_performance_reference_ratio", {"metric": "roc_auc"}),
                ("mlmon_class_performance_ratio", {"class": "1", "metric": "recall"}),
            ):
                assert value(daemon, name, model="clf", **labels) is not None, name
            wait_for(
                lambda: (
                    _scalar(
                        prom.query(
                            'sum(mlmon_regression_labeled_total{model="reg"})'
                            ' + sum(mlmon_labeled_predictions_total{model="clf"})'
                        )
                    )
                    == 2 * ROWS
                ),
                30,
                what="prometheus scraping every joined label",
            )
            assert _scalar(prom.query(ACCURACY)) == pytest.approx(accuracy, abs=1e-9)
            assert _scalar(prom.query(MAE)) == pytest.approx(mae, abs=1e-9)
            assert _scalar(prom.query(R2)) == pytest.approx(r2, abs=1e-9)
        finally:
            prom.stop()
