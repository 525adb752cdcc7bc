"""A scikit-learn fraud model served over HTTP, every prediction logged for the exporter.

The exporter does not install scikit-learn; this example needs it:

    pip install scikit-learn
    python examples/sklearn_server.py --redis-url redis://localhost:6379/0 --listen 127.0.0.1:8080
    curl -s localhost:8080/predict -d '{"id": "tx-1", "features":
        {"amount": 129.5, "country": "DE", "age": 41, "channel": "web"}}'

It trains on config/reference/fraud.csv (the exporter's reference for the model), so the
exporter compares live traffic with exactly the data the model learnt from.
"""

from __future__ import annotations

import argparse
import csv
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

try:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
except ImportError as exc:  # not an exporter dependency: say how to get it
    raise ImportError(
        f"{exc}; examples/sklearn_server.py needs scikit-learn: pip install scikit-learn"
    ) from None

from exporter.client import Monitored, PredictionLogger, monitor

REFERENCE = Path(__file__).resolve().parent.parent / "config" / "reference" / "fraud.csv"
NUMERIC, CATEGORICAL = ("amount", "age"), ("country", "channel")


def train(path: Path = REFERENCE) -> Pipeline:
    """Fit a one-hot + logistic regression pipeline on the reference rows and their labels."""
    rows: list[dict[str, Any]] = []
    labels: list[int] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append({**{k: float(row[k]) for k in NUMERIC},
                         **{k: row[k] for k in CATEGORICAL}})
            labels.append(int(row["label"]))
    pipeline: Pipeline = make_pipeline(DictVectorizer(sparse=False),
                                       LogisticRegression(max_iter=1000))
    return pipeline.fit(rows, labels)


def make_server(model: Monitored[Pipeline], address: tuple[str, int]) -> ThreadingHTTPServer:
    """POST /predict with {"id", "features"} or a list of them; answers class and score."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            items = body if isinstance(body, list) else [body]
            proba = model.predict_proba([i["features"] for i in items],
                                        ids=[i.get("id") for i in items])
            classes = model.classes_.tolist()
            answer = [{"id": i.get("id"), "prediction": classes[int(p.argmax())],
                       "score": float(p[classes.index(1)])}
                      for i, p in zip(items, proba, strict=True)]
            data = json.dumps(answer if isinstance(body, list) else answer[0]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request is too much for a model server

    return ThreadingHTTPServer(address, Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--sample-rate", type=float, default=1.0)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    with PredictionLogger(args.redis_url, "fraud", sample_rate=args.sample_rate,
                          version="logreg-1") as logger:
        server = make_server(monitor(train(), logger), (host, int(port)))
        print(f"serving the fraud model on http://{args.listen}/predict")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.shutdown()


if __name__ == "__main__":
    main()
