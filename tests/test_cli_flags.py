"""The flags as promslog and the exporter-toolkit spell them, with or without `run` in front."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from exporter.cli import main
from exporter.cli.flags import parser, with_default_command
from exporter.web.routes import Routes
from exporter.web.webconfig import BasicAuth
from tests.conftest import RedisServer, wait_for
from tests.helpers import model_yaml, sample, write_reference

ROOT = Path(__file__).resolve().parent.parent
# One logfmt pair: a bare value, or a quoted one with backslash escapes.
LOGFMT_PAIR = r'[^\s="]+=(?:"(?:[^"\\]|\\.)*"|[^\s="]+)'


def parse(*argv: str) -> argparse.Namespace:
    return parser().parse_args(with_default_command(list(argv)))


def test_version_prints_the_version_revision_build_date_and_python_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLMON_REVISION", "0123abc")
    monkeypatch.setenv("MLMON_BUILD_DATE", "2025-06-01T12:00:00Z")
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert out.startswith("ml-monitoring-exporter, version 0.1.0 (revision: 0123abc)\n")
    assert "build date:       2025-06-01T12:00:00Z" in out
    assert f"python version:   {sys.version.split()[0]}" in out


def test_version_says_unknown_revision_and_omits_the_build_date_outside_an_image(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLMON_REVISION", raising=False)
    monkeypatch.delenv("MLMON_BUILD_DATE", raising=False)
    with pytest.raises(SystemExit):
        main(["--config.file=c.yaml", "--version"])
    out = capsys.readouterr().out
    assert "(revision: unknown)" in out and "build date" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--config.file=c.yaml", "--web.listen-address=127.0.0.1:0"],
        ["--web.listen-address=127.0.0.1:0", "--config.file=c.yaml"],
        ["run", "--web.listen-address", "127.0.0.1:0", "--config.file", "c.yaml"],
        ["--log.level=warn", "--web.listen-address=127.0.0.1:0", "--config.file=c.yaml"],
    ],
)
def test_flags_reach_run_in_any_order_with_or_without_the_command(argv: list[str]) -> None:
    args = parse(*argv)
    assert (args.command, args.config_file, args.listen_address) == (
        "run",
        "c.yaml",
        "127.0.0.1:0",
    )


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("debug", "debug"),
        ("info", "info"),
        ("warn", "warn"),
        ("warning", "warn"),
        ("ERROR", "error"),
    ],
)
def test_log_level_takes_promslog_names_and_warning_as_an_alias(given: str, meant: str) -> None:
    assert parse("--config.file=c", f"--log.level={given}").log_level == meant


@pytest.mark.parametrize(
    ("given", "meant"), [("logfmt", "logfmt"), ("json", "json"), ("text", "logfmt")]
)
def test_log_format_takes_logfmt_and_json_and_text_as_an_alias(given: str, meant: str) -> None:
    assert parse("--config.file=c", f"--log.format={given}").log_format == meant


@pytest.mark.parametrize(
    ("flag", "named"),
    [
        ("--log.level=verbose", "debug, info, warn, error"),
        ("--log.format=xml", "logfmt, json"),
        ("--web.telemetry-path=metrics", "absolute path"),
        ("--web.telemetry-path=/readyz", "/readyz is one of the exporter's own pages"),
        ("--web.telemetry-path=/models/x", "/models is one of the exporter's own pages"),
        ("--web.listen-address=127.0.0.1", "HOST:PORT with a port from 0 to 65535"),
        ("--web.listen-address=:abc", "HOST:PORT with a port from 0 to 65535"),
        ("--web.listen-address=127.0.0.1:99999", "HOST:PORT with a port from 0 to 65535"),
        ("--web.listen-address=::1:80", "IPv6 hosts must be in brackets"),
    ],
)
def test_a_bad_flag_value_exits_2_naming_what_is_accepted(
    flag: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--config.file=c.yaml", flag])
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


def test_a_bare_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: ml-monitoring-exporter" in out and "`run` is the default command" in out


def test_every_flag_of_every_command_has_help_text() -> None:
    silent = []
    pending = [("ml-monitoring-exporter", parser())]
    while pending:
        name, p = pending.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending += [(f"{name} {n}", sub) for n, sub in action.choices.items()]
            elif not action.help:
                silent.append(f"{name} {'/'.join(action.option_strings)}")
    assert not silent, f"flags without help: {silent}"


def test_the_demo_without_fakeredis_exits_1_naming_the_demo_extra() -> None:
    blocked = "import sys; sys.modules['fakeredis'] = None; from exporter.cli import main; "
    result = subprocess.run(
        [sys.executable, "-c", blocked + "sys.exit(main(['demo']))"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "pip install 'ml-monitoring-exporter[demo]'" in result.stderr


def _listening_port(pid: int) -> int | None:
    """The TCP port a process listens on, from /proc (the flag asked for port 0)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            inodes.add(re.fullmatch(r"socket:\[(\d+)\]", str(fd.readlink())))
        except OSError:
            continue
    sockets = {m.group(1) for m in inodes if m}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in sockets:  # 0A: LISTEN
                return int(cols[1].rsplit(":", 1)[1], 16)
    return None


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_the_exporter_serves_metrics_under_the_telemetry_path_given_by_flags_in_any_order(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(3), 200))
    config = tmp_path / "c.yaml"
    config.write_text(f"redis: {{url: '{redis_server.url}'}}\nmodels:{model_yaml('m')}")
    argv = [
        f"--config.file={config}",
        "--web.listen-address=127.0.0.1:0",
        "--log.level=warn",
        "--log.format=logfmt",
        "--web.telemetry-path=/m",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", *argv], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        port = wait_for(lambda: proc.poll() is None and _listening_port(proc.pid), what="listening")
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: "mlmon_redis_up 1.0" in _get(f"{base}/m")[1], what="redis_up 1 on /m")
        assert _get(f"{base}/metrics")[0] == 404
        assert '<a href="m">/m</a>' in _get(f"{base}/")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    for line in err.splitlines():  # warn and above only, each a logfmt line
        assert re.fullmatch(f"{LOGFMT_PAIR}( {LOGFMT_PAIR})*", line), line
        assert re.match(r"ts=\S+ level=(warning|error) logger=\S+ msg=", line), line


def test_a_nested_telemetry_path_serves_the_metrics_and_the_landing_page_links_to_it() -> None:
    routes = Routes(
        lambda accept: (b"up 1\n", "text/plain"),
        lambda: (True, "ready"),
        BasicAuth(()),
        None,
        "/exporter/metrics",
    )
    assert routes.respond("GET", "/exporter/metrics", {})[::2] == (200, b"up 1\n")
    assert routes.respond("GET", "/metrics", {})[0] == 404
    landing = routes.respond("GET", "/", {})[2]
    assert b'<a href="exporter/metrics">/exporter/metrics</a>' in landing


def test_the_default_telemetry_path_in_the_help_is_the_path_the_server_serves() -> None:
    from exporter.cli import flags
    from exporter.web import routes

    assert flags.TELEMETRY_PATH == routes.TELEMETRY_PATH


def test_pages_say_they_vary_by_accept_as_metrics_do() -> None:
    """A page is HTML or JSON by Accept; without Vary a shared cache could serve either."""
    routes = Routes(
        lambda accept: (b"up 1\n", "text/plain"),
        lambda: (True, "ready"),
        BasicAuth(()),
        lambda path, accept: (200, "application/json", b"{}"),
        "/metrics",
    )
    status, headers, _ = routes.respond("GET", "/models", {"HTTP_ACCEPT": "application/json"})
    assert status == 200 and ("Vary", "Accept") in headers
