"""Real Prometheus, Alertmanager and a webhook receiver on free loopback ports, for tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import free_port, require_tool, wait_for

START_TIMEOUT = 30.0


def _get_json(url: str, timeout: float = 10.0) -> Any:
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def _ready(url: str) -> bool:
    """True when the process's /-/ready answers 200."""
    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
        return int(resp.status) == 200


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started, by its PID; kill it if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _start(argv: list[str], log: Path, url: str, what: str) -> subprocess.Popen[bytes]:
    """Start argv with output to `log` and wait until /-/ready answers; show the log if not."""
    with log.open("wb") as fh:
        process = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: process.poll() is None and _ready(url), START_TIMEOUT, what=what)
    except AssertionError as exc:
        _stop(process)
        raise AssertionError(f"{exc}\n--- {log.name} ---\n{log.read_text()[-4000:]}") from None
    return process


@dataclass
class PrometheusProcess:
    """A prometheus server this test started, with helpers for its HTTP API."""

    url: str
    config_path: Path
    process: subprocess.Popen[bytes]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the `result` vector (each item has `metric` and `value`)."""
        q = urllib.parse.urlencode({"query": expr})
        body = _get_json(f"{self.url}/api/v1/query?{q}")
        if body.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {body}")
        return list(body["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing), each with `labels`, `annotations` and `state`."""
        return list(_get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"])

    def stop(self) -> None:
        """Terminate the server, by its PID."""
        _stop(self.process)


def start_prometheus(
    tmp_path: Path,
    targets: list[str],
    rule_files: Sequence[Path] = (),
    scrape_interval: str = "1s",
    alertmanager_url: str | None = None,
    target_labels: Sequence[dict[str, str]] = ({},),
) -> PrometheusProcess:
    """Prometheus scraping `targets` (host:port) and evaluating `rule_files` every interval;
    every target once per label set of `target_labels`, as each replica pod is scraped."""
    binary = require_tool("prometheus")
    home = tmp_path / f"prometheus-{free_port()}"
    home.mkdir(parents=True)
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": "mlmon",
                "static_configs": [
                    {"targets": targets, "labels": dict(labels)} for labels in target_labels
                ],
            }
        ],
    }
    if alertmanager_url is not None:
        host = urllib.parse.urlparse(alertmanager_url).netloc
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
    config_path = home / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        "--rules.alert.resend-delay=1s",
        "--log.level=warn",
    ]
    process = _start(argv, home / "prometheus.log", url, f"prometheus on port {port}")
    return PrometheusProcess(url, config_path, process)


@dataclass
class AlertmanagerProcess:
    """An alertmanager this test started, with a helper for its v2 API."""

    url: str
    config_path: Path
    process: subprocess.Popen[bytes]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (API v2), each with `labels`, `annotations` and `status`."""
        return list(_get_json(f"{self.url}/api/v2/alerts"))

    def stop(self) -> None:
        """Terminate the server, by its PID."""
        _stop(self.process)


def alertmanager_binary() -> str:
    """Debian names it prometheus-alertmanager; upstream tarballs name it alertmanager."""
    return shutil.which("prometheus-alertmanager") or require_tool("alertmanager")


def start_alertmanager(tmp_path: Path, config_text: str) -> AlertmanagerProcess:
    """Alertmanager with `config_text`, clustering off, on a free loopback port."""
    binary = alertmanager_binary()
    home = tmp_path / f"alertmanager-{free_port()}"
    home.mkdir(parents=True)
    config_path = home / "alertmanager.yml"
    config_path.write_text(config_text)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    process = _start(argv, home / "alertmanager.log", url, f"alertmanager on port {port}")
    return AlertmanagerProcess(url, config_path, process)


def rules_with_short_for(
    rules: Path, tmp_path: Path, duration: str, keep_firing_for: str | None = None
) -> Path:
    """A copy of `rules` in tmp_path with every `for:` set to `duration`, for fast tests, and
    `keep_firing_for:` too when given: a start-up transient that fires under the short `for:`
    is otherwise held for the shipped 5m."""
    doc = yaml.safe_load(rules.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = duration
            if "keep_firing_for" in rule and keep_firing_for is not None:
                rule["keep_firing_for"] = keep_firing_for
    out = tmp_path / f"short-for-{rules.name}"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def alertmanager_config_for_test(example: str, webhook_url: str) -> str:
    """The example routing with short waits and every receiver POSTing to webhook/<name>."""
    doc = yaml.safe_load(example)
    route = doc["route"]
    route.update(group_wait="0s", group_interval="1s", repeat_interval="1h")
    for receiver in doc["receivers"]:
        if any(key.endswith("_configs") for key in receiver):
            name = receiver["name"]
            for key in [k for k in receiver if k.endswith("_configs")]:
                del receiver[key]
            receiver["webhook_configs"] = [{"url": f"{webhook_url}/{name}", "send_resolved": True}]
    return str(yaml.safe_dump(doc, sort_keys=False))


@dataclass
class Notification:
    """One webhook POST: the receiver path it came to and its alerts."""

    path: str
    receiver: str
    status: str
    alerts: list[dict[str, Any]]


@dataclass
class WebhookReceiver:
    """An HTTP server on loopback recording every Alertmanager webhook POST."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    notifications: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self, path: str | None = None) -> list[Notification]:
        """A copy of the notifications so far, optionally only those POSTed to `path`."""
        with self.lock:
            return [n for n in self.notifications if path is None or n.path == path]

    def alerts(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every alert in the notifications so far (firing and resolved)."""
        return [a for n in self.received(path) for a in n.alerts]

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def start_webhook() -> WebhookReceiver:
    """Serve a webhook on a free loopback port; POSTs to any path are recorded."""
    notifications: list[Notification] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length).decode() or "{}")
            with lock:
                notifications.append(
                    Notification(
                        self.path,
                        str(body.get("receiver", "")),
                        str(body.get("status", "")),
                        list(body.get("alerts", [])),
                    )
                )
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    return WebhookReceiver(server, thread, notifications, lock)
