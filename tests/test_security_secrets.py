"""No secret of the config reaches any output; nothing deserialises untrusted bytes into code."""

from __future__ import annotations

import ast
import base64
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import numpy as np
import pytest

from tests.conftest import free_port, wait_for
from tests.helpers import model_yaml, records, sample, write_reference, xadd_all
from tests.test_security_redis import ACL_PASSWORD, ACL_USER, TLSRedis, tls_redis
from tests.test_security_web import PASSWORD, USER, get

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exporter"
WRONG_PASSWORD = "wrong-Pa55-c0ffee"
UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "shelve",
    "marshal",
    "jsonpickle",
}


def secrets_of(server: TLSRedis, hashed: str) -> dict[str, str]:
    """Every value that must never be printed, by what it is."""
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    key_body = server.pki.client_key.read_text().splitlines()[1]
    return {
        "redis password": ACL_PASSWORD,
        "wrong redis password": WRONG_PASSWORD,
        "web password": PASSWORD,
        "bcrypt hash": hashed,
        "basic auth header": token,
        "client key": key_body,
    }


def write_files(server: TLSRedis, tmp: Path, password: str = "${REDIS_PASSWORD}") -> str:
    """config.yaml and web.yml for a TLS exporter; returns the bcrypt hash used."""
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(9), 300))
    pki = server.pki
    (tmp / "config.yaml").write_text(
        f"redis:\n  url: '{server.url}'\n  username: {ACL_USER}\n  password: '{password}'\n"
        f"  backoff_max: 1s\n  tls: {{ca_file: ca.crt, cert_file: client.crt,"
        f" key_file: client.key}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("m")
    )
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
    (tmp / "web.yml").write_text(
        f"tls_server_config: {{cert_file: {pki.server_cert.name},"
        f" key_file: {pki.server_key.name}}}\n"
        f"basic_auth_users: {{{USER}: '{hashed}'}}\n"
    )
    return hashed


def exporter_command(tmp: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "exporter", *args, f"--config.file={tmp / 'config.yaml'}"]


@contextmanager
def exporter_process(tmp: Path, log: Path, env: dict[str, str]) -> Iterator[str]:
    """`run` with the web config and debug logs into `log`; yields the HTTPS base URL."""
    import yaml

    port = yaml.safe_load((tmp / "config.yaml").read_text())["web"]["listen_address"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *exporter_command(tmp, "run"),
                f"--web.config.file={tmp / 'web.yml'}",
                "--log.level=debug",
                "--log.format=text",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **env},
        )
        try:
            yield f"https://{port}"
        finally:
            process.send_signal(signal.SIGTERM)
            try:  # a SIGTERM while start() still waits for Redis is handled once start() returns
                assert process.wait(60) == 0
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)


def context(server: TLSRedis) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.pki.ca))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TLSRedis]:
    with tls_redis(tmp_path) as s:
        yield s


def test_no_secret_appears_in_logs_pages_or_error_messages(
    server: TLSRedis, tmp_path: Path
) -> None:
    hashed = write_files(server, tmp_path)
    outputs: dict[str, str] = {}
    log = tmp_path / "run.log"
    with exporter_process(tmp_path, log, {"REDIS_PASSWORD": ACL_PASSWORD}) as base:
        ready = wait_for(
            lambda: get(f"{base}/readyz", context(server))[0] == 200,
            what="the exporter to be ready over TLS",
        )
        assert ready
        xadd_all(
            server.admin(), "mlmon:{m}:predictions", records(sample(np.random.default_rng(4), 20))
        )
        wait_for(
            lambda: (
                'mlmon_records_read_total{kind="predictions",model="m"} 20.0'
                in get(f"{base}/metrics", context(server), (USER, PASSWORD))[2]
            ),
            what="20 records read",
        )
        for path in ("/", "/metrics", "/readyz", "/healthz"):
            outputs[f"GET {path}"] = get(f"{base}{path}", context(server), (USER, PASSWORD))[2]
        outputs["401"] = str(get(f"{base}/metrics", context(server), (USER, WRONG_PASSWORD)))
    outputs["run log"] = log.read_text()

    bad_log = tmp_path / "bad.log"
    with exporter_process(tmp_path, bad_log, {"REDIS_PASSWORD": WRONG_PASSWORD}) as base:
        wait_for(
            lambda: "invalid username-password pair" in bad_log.read_text(),
            what="the Redis authentication failure in the log",
        )
        outputs["/readyz, wrong password"] = str(get(f"{base}/readyz", context(server)))
    outputs["log, wrong password"] = bad_log.read_text()
    outputs.update(cli_outputs(server, tmp_path))

    assert "mlmon_records_read_total" in outputs["GET /metrics"]
    for name, secret in secrets_of(server, hashed).items():
        leaks = [where for where, text in outputs.items() if secret in text]
        assert leaks == [], f"the {name} appears in {leaks}"


def cli_outputs(server: TLSRedis, tmp: Path) -> dict[str, str]:
    """check-config and reference load, passing and failing, as a user would see them."""

    def run(*args: str, password: str = ACL_PASSWORD) -> str:
        env = {**os.environ, "REDIS_PASSWORD": password}
        result = subprocess.run(
            exporter_command(tmp, *args),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=env,
        )
        return f"exit {result.returncode}\n{result.stdout}{result.stderr}"

    out = {"check-config ok": run("check-config", f"--web.config.file={tmp / 'web.yml'}")}
    assert out["check-config ok"].startswith("exit 0")
    (tmp / "ref.jsonl").write_text(
        '{"x1": 1, "x2": 2, "x3": 3, "c1": "a", "c2": "x", "prediction": 1, "label": 1}\n' * 50
    )
    config = (tmp / "config.yaml").read_text()
    (tmp / "config.yaml").write_text(config.replace("{file: ref.csv}", "{redis_key: 'mlmon:ref'}"))
    out["reference load, wrong password"] = run(
        "reference",
        "load",
        "--model",
        "m",
        "--file",
        str(tmp / "ref.jsonl"),
        password=WRONG_PASSWORD,
    )
    assert "invalid username-password pair" in out["reference load, wrong password"]
    broken = {
        "password as a number": config.replace("'${REDIS_PASSWORD}'", "918273645"),
        "url with a password and a bad port": config.replace(
            f"'{server.url}'", f"'rediss://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:99999/0'"
        ),
        "unknown key beside the password": config.replace(
            "  backoff_max: 1s", "  backoff_max: 1s\n  passwrd: x"
        ),
    }
    for name, text in broken.items():
        (tmp / "config.yaml").write_text(text)
        out[f"check-config, {name}"] = run("check-config")
        assert out[f"check-config, {name}"].startswith("exit 2"), out[f"check-config, {name}"]
    assert "918273645" not in out["check-config, password as a number"]
    (tmp / "config.yaml").write_text(config)
    return out


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a source file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_the_exporter_imports_pickle_or_another_code_loading_deserialiser() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20
    offenders = {
        str(p.relative_to(ROOT)): sorted(imported_modules(p) & UNSAFE_MODULES)
        for p in sources
        if imported_modules(p) & UNSAFE_MODULES
    }
    assert offenders == {}


def test_no_module_names_an_unsafe_yaml_loader_or_lets_numpy_unpickle() -> None:
    unsafe = (
        "unsafe_load",
        "yaml.Loader",
        "FullLoader",
        "UnsafeLoader",
        "full_load",
        "allow_pickle=True",
    )
    found = {
        str(p.relative_to(ROOT)): [u for u in unsafe if u in p.read_text()]
        for p in sorted(PACKAGE.rglob("*.py"))
    }
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("loader", ["config", "web config"])
def test_a_python_object_tag_in_yaml_is_rejected_not_executed(tmp_path: Path, loader: str) -> None:
    from exporter.config import ConfigError, load_config
    from exporter.web.webconfig import load_web_config

    marker = tmp_path / "pwned"
    payload = f"!!python/object/apply:os.system ['touch {marker}']"
    path = tmp_path / "in.yaml"
    if loader == "config":
        path.write_text(f"redis: {{url: {payload}}}\nmodels:" + model_yaml("m"))
        with pytest.raises(ConfigError):
            load_config(str(path))
    else:
        path.write_text(f"basic_auth_users: {{u: {payload}}}\n")
        with pytest.raises(ConfigError):
            load_web_config(str(path))
    assert not marker.exists()
