"""Every panel query returns data from a real Prometheus scraping a real exporter fed via Redis."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import redis

from dashboards.build import DASHBOARDS
from dashboards.lint import PanelQuery, queries
from exporter.config import Config, load_config_text
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import running, xadd_all
from tests.promstack import PrometheusProcess, start_prometheus
from tests.test_dashboards import RULES, load

pytestmark = pytest.mark.integration

# What the dashboards' variables are set to: the hidden cluster variable empty, as on a single
# Prometheus (no series has the label), All for namespace and feature (series outside Kubernetes
# carry no namespace, `.*` matches them), All for segment and segment value, the test's model and
# scrape job, and a rate window that holds every increment the test feeds.
VARIABLES = {
    "cluster": "",
    "namespace": ".*",
    "model": "fraud",
    "feature": ".*",
    "segment": ".*",
    "segment_value": ".*",
    "job": "mlmon",
    "__rate_interval": "1m",
}

# As Kubernetes service discovery labels the two pods of replicaCount: 2.
PODS = (
    {"pod": "mlmon-7d9f-a", "instance": "10.0.0.1:10135"},
    {"pod": "mlmon-7d9f-b", "instance": "10.0.0.2:10135"},
)
ROUNDS = 6
PER_ROUND = 250


def config(tmp: Path, redis_url: str) -> Config:
    """A binary classifier with versions, scores, labels, an SLO and performance bounds."""
    return load_config_text(
        f"""
redis: {{url: '{redis_url}', backoff_max: 1s}}
web: {{listen_address: '127.0.0.1:{free_port()}', external_url: 'https://mlmon.example.com'}}
models:
  - name: fraud
    task: binary_classification
    positive_class: "1"
    reference: {{file: ref.csv}}
    window: {{duration: 1d, max_samples: 10000}}
    schedule: {{interval: 1s}}
    min_samples: 50
    multivariate: {{variance: 0.4}}  # one of two components: the multivariate panels have data
    slo: {{latency_target: 50ms, objective: 0.99, availability: 0.99}}
    performance: {{accuracy: {{min: 0.5}}, f1: {{min: 0.3, max: 1.0}}}}
    features:
      - {{name: x1, type: numeric, method: ks}}
      - {{name: x2, type: numeric, method: psi, threshold: 0.1, range: [0, 9]}}
      - {{name: c1, type: categorical, allowed: [a, b, c]}}
    segments: [{{feature: c1, max_values: 3, min_samples: 50}}]
    versions: {{min_labeled: 100}}
""",
        base_dir=str(tmp),
    )


def rows(rng: np.random.Generator, n: int) -> Iterator[dict[str, Any]]:
    """Feature rows with a score, the prediction it implies and a mostly agreeing label."""
    for _ in range(n):
        score = float(rng.uniform())
        prediction = int(score > 0.5)
        yield {
            "features": {
                "x1": float(rng.normal()),
                "x2": float(rng.normal(5, 2)),
                "c1": str(rng.choice(["a", "b", "c", "d"], p=[0.4, 0.3, 0.2, 0.1])),
            },
            "score": score,
            "prediction": prediction,
            "label": prediction if rng.uniform() < 0.85 else 1 - prediction,
        }


def write_reference(path: Path, rng: np.random.Generator) -> None:
    """A CSV reference with prediction, score and label columns."""
    lines = ["x1,x2,c1,prediction,score,label"]
    for r in rows(rng, 1000):
        f = r["features"]
        lines.append(
            f"{f['x1']!r},{f['x2']!r},{f['c1']},{r['prediction']},{r['score']!r},{r['label']}"
        )
    path.write_text("\n".join(lines) + "\n")


def feed_round(client: redis.Redis, rng: np.random.Generator, start: int) -> list[bytes]:
    """Predictions of two versions (some slow, some errors), plus one undecodable entry."""
    preds, labels = [], []
    for i, r in enumerate(rows(rng, PER_ROUND), start):
        preds.append(
            orjson.dumps(
                {
                    "id": f"p{i}",
                    "version": "v2" if i % 5 == 0 else "v1",
                    "features": r["features"],
                    "prediction": r["prediction"],
                    "scores": r["score"],
                    "latency_ms": float(rng.gamma(2.0, 15.0)),
                    "sample_rate": 0.5,
                    "status": "error" if i % 25 == 0 else "ok",
                }
            )
        )
        labels.append(orjson.dumps({"id": f"p{i}", "label": r["label"]}))
    xadd_all(client, "mlmon:{fraud}:predictions", preds)
    client.xadd("mlmon:{fraud}:predictions", {"data": b"{not json"})
    return labels


def substitute(expr: str) -> str:
    """The query as Grafana sends it with the test's variable values."""
    out = re.sub(r"\$\{?(\w+)\}?", lambda m: VARIABLES[m.group(1)], expr)
    assert "$" not in out, out
    return out


def has_data(prom: PrometheusProcess, expr: str) -> bool:
    """True when the instant query returns at least one finite sample."""
    return any(math.isfinite(float(s["value"][1])) for s in prom.query(substitute(expr)))


def feed_while_scraped(prom: PrometheusProcess, client: redis.Redis) -> None:
    """Feed in rounds, each after Prometheus scraped the last, so every rate sees increments."""
    rng = np.random.default_rng(42)
    pending_labels: list[bytes] = []
    read = 'mlmon_records_read_total{job="mlmon", kind="predictions"}'
    for n in range(ROUNDS):
        labels = feed_round(client, rng, n * PER_ROUND)
        xadd_all(client, "mlmon:{fraud}:labels", pending_labels)
        pending_labels = labels
        total = (n + 1) * PER_ROUND
        wait_for(
            lambda t=total: [s for s in prom.query(read) if float(s["value"][1]) >= t],
            30,
            what=f"Prometheus to scrape {total} predictions read",
        )


def empty_queries(prom: PrometheusProcess, exprs: list[tuple[str, str]]) -> list[str]:
    """The (panel, query) pairs whose query returns no data yet, as lines to show."""
    return [f"{where}: {substitute(expr)}" for where, expr in exprs if not has_data(prom, expr)]


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    """Prometheus scraping a fed exporter as the two pods of replicaCount: 2 (each pod reads
    every stream, so each exports the same series under its own pod and instance)."""
    tmp = tmp_path_factory.mktemp("two-replicas")
    write_reference(tmp / "ref.csv", np.random.default_rng(7))
    server = RedisServer(free_port(), tmp)
    server.start()
    rules = [RULES] if RULES.exists() else []
    try:
        with running(config(tmp, server.url)) as daemon:
            target = [f"127.0.0.1:{daemon.http.port}"]
            prom = start_prometheus(tmp, target, rule_files=rules, target_labels=PODS)
            try:
                wait_for(lambda: len(prom.query('up{job="mlmon"} == 1')) == 2, 30, what="scrapes")
                feed_while_scraped(prom, server.client())
                yield prom
            finally:
                prom.stop()
    finally:
        server.stop()


def every_query() -> list[PanelQuery]:
    """Every panel query of every dashboard."""
    return [q for name in DASHBOARDS for q in queries(load(name))]


def test_every_panel_query_returns_data_from_prometheus(two_replicas: PrometheusProcess) -> None:
    every = [(f"{q.panel} [{q.ref}]", q.expr) for q in every_query()]
    empty: list[str] = []

    def every_query_has_data() -> bool:
        empty[:] = empty_queries(two_replicas, every)
        return not empty

    try:
        wait_for(every_query_has_data, 45, interval=1.0, what="panel queries' data")
    except AssertionError:
        pytest.fail("queries without data:\n" + "\n".join(empty))


def drawn(series: list[dict[str, Any]], legend: str) -> Counter[str]:
    """How many lines (or table rows) a panel draws under each name: the legend with the
    series' labels filled in, else the labels a replica does not change."""
    if legend:
        fill = re.compile(r"\{\{\s*(\w+)\s*\}\}")
        return Counter(fill.sub(lambda m, s=s: s["metric"].get(m.group(1), ""), legend)
                       for s in series)  # fmt: skip
    return Counter(
        str(sorted((k, v) for k, v in s["metric"].items() if k not in PODS[0])) for s in series
    )


def test_every_panel_draws_each_series_once_when_two_replicas_export_it(
    two_replicas: PrometheusProcess,
) -> None:
    """replicaCount: 2 drew most model panels twice under one legend ('x (ks)' twice in
    'p-value per feature'): their queries selected gauges without taking them once across pods."""
    every = every_query()
    wait_for(lambda: not empty_queries(two_replicas, [("", q.expr) for q in every]), 45,
             interval=1.0, what="panel queries' data")  # fmt: skip
    twice = []
    for q in every:
        names = drawn(two_replicas.query(substitute(q.expr)), q.legend)
        twice += [f"{q.panel} [{q.ref}]: {name!r} x{n}" for name, n in names.items() if n > 1]
    assert twice == []


def exporter_urls(prom: PrometheusProcess) -> list[str]:
    """What the model dashboard's exporter_url variable offers: its query_result, its regex."""
    var = next(
        v for v in load("ml-model-detail.json")["templating"]["list"] if v["name"] == "exporter_url"
    )
    query = re.fullmatch(r"query_result\((.+)\)", var["definition"])
    assert query is not None
    expr = query.group(1).replace('"$1"', "PLACEHOLDER").replace('"http://$1"', "SCHEME")
    expr = substitute(expr).replace("PLACEHOLDER", '"$1"').replace("SCHEME", '"http://$1"')
    pattern = re.compile(var["regex"].strip("/"))
    lines = [f'{{url="{s["metric"].get("url", "")}"}}' for s in prom.query(expr)]
    return sorted(m.group(1) for line in lines if (m := pattern.search(line)))


def test_exporter_url_variable_offers_the_external_url_else_the_scraped_address(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    write_reference(tmp_path / "ref.csv", np.random.default_rng(9))
    configured = config(tmp_path, redis_server.url)
    unset = configured.model_copy(
        update={
            "web": configured.web.model_copy(
                update={"listen_address": f"127.0.0.1:{free_port()}", "external_url": ""}
            )
        }
    )
    with running(configured) as with_url, running(unset) as without_url:
        targets = [f"127.0.0.1:{with_url.http.port}", f"127.0.0.1:{without_url.http.port}"]
        prom = start_prometheus(tmp_path, targets)
        try:
            expected = sorted(["https://mlmon.example.com", f"http://{targets[1]}"])
            wait_for(lambda: exporter_urls(prom) == expected, 30, what="both exporter URLs")
        finally:
            prom.stop()


def label_queries() -> Iterator[tuple[str, str, str]]:
    """(where, label, query counting the label's values) of every label_values variable."""
    for name in DASHBOARDS:
        for var in load(name)["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", var.get("definition", ""))
            # cluster and namespace are absent on a single Prometheus outside Kubernetes
            if m is None or m.group(2) in ("cluster", "namespace"):
                continue
            label = m.group(2)
            yield f"{name} variable {var['name']}", label, f"count by ({label}) ({m.group(1)})"


def test_every_variable_query_offers_values(two_replicas: PrometheusProcess) -> None:
    def offers(expr: str, label: str) -> bool:
        return any(s["metric"].get(label) for s in two_replicas.query(substitute(expr)))

    for where, label, expr in label_queries():
        wait_for(lambda e=expr, lb=label: offers(e, lb), 30, what=f"{where} to offer values")
