"""The limits behind the hostile-file tests, one at a time and in-process: YAML size, depth
and aliases; regular files only; bounded references; signals; a reload loop nothing ends."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import redis

from exporter import yamlfile as yaml_document
from exporter.config import ConfigError, load_config_text
from exporter.daemon import Daemon
from exporter.daemon.signals import EXIT_HUNG, SignalEvents
from exporter.files import MiB, RefusedFile, read_regular_file
from exporter.reference import load as reference
from exporter.reference.load import ReferenceError, decode_from_redis, encode_for_redis
from exporter.source.connect import PasswordFile
from exporter.web.webconfig import load_web_config
from exporter.yamlfile import parse_yaml, read_yaml_text
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import make_config, model_yaml, sample, write_reference
from tests.test_hostile_files import ALIAS_BOMB


def test_an_alias_bomb_is_refused_at_the_alias_that_passes_100000_values() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^<config>: YAML document refused: line 6, "
        r"column 8: more than 100,000 values once aliases are expanded",
    ):
        load_config_text(ALIAS_BOMB)


def test_a_recursive_alias_is_refused_as_a_config_error() -> None:
    with pytest.raises(ConfigError, match="recursive alias"):
        load_config_text("models: &m [1, *m]\n")


def test_values_nested_more_than_64_deep_are_refused_not_a_crash() -> None:
    nested: list[object] = []
    for _ in range(59):
        nested = [nested]
    assert parse_yaml("[" * 60 + "]" * 60, "x") == nested
    with pytest.raises(
        ConfigError,
        match=r"^x: YAML document refused: line 1, column 65: "
        r"values nested more than 64 deep",
    ):
        parse_yaml("[" * 100 + "]" * 100, "x")
    # Past 1,000 levels libyaml's parser refuses first, in its own words.
    with pytest.raises(
        ConfigError, match=r"^x: (YAML document refused|invalid YAML).* (deep|depth)"
    ):
        parse_yaml("[" * 5000 + "]" * 5000, "x")


def test_the_value_limit_counts_aliases_as_often_as_they_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the mapping, its 2 keys, [1, 2] (3 values), the list under b, and [1, 2] twice more
    monkeypatch.setattr(yaml_document, "MAX_DOCUMENT_VALUES", 13)
    assert parse_yaml("a: &a [1, 2]\nb: [*a, *a]", "x") == {"a": [1, 2], "b": [[1, 2], [1, 2]]}
    with pytest.raises(ConfigError, match="more than 13 values once aliases are expanded"):
        parse_yaml("a: &a [1, 2]\nb: [*a, *a, *a]", "x")


def test_merge_keys_and_anchors_in_a_real_config_still_load(tmp_path: Path) -> None:
    text = (
        "models:\n  - &base"
        + model_yaml("a").replace("\n  - name: a", "\n    name: a", 1)
        + "  - <<: *base\n    name: b\n"
    )
    config = load_config_text(text, base_dir=str(tmp_path))
    assert [m.name for m in config.models] == ["a", "b"]
    assert config.models[1].features == config.models[0].features


def test_a_config_file_one_byte_past_4_mib_is_refused_and_one_at_the_limit_is_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("#" * (4 * MiB))
    assert len(read_yaml_text(str(path), "config file")) == 4 * MiB
    path.write_text("#" * (4 * MiB + 1))
    with pytest.raises(
        ConfigError,
        match=r"cannot read config file: larger than the 4 MiB "
        r"limit \(4.0 MiB\)",
    ):
        read_yaml_text(str(path), "config file")


def _special(kind: str, tmp: Path) -> Path:
    path = tmp / f"special-{kind}"
    if kind == "directory":
        path.mkdir()
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "character device":
        path.symlink_to("/dev/zero")
    else:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))
    return path


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("directory", "a directory"),
        ("FIFO", "a FIFO (named pipe)"),
        ("character device", "a character device"),
        ("socket", "a socket"),
    ],
)
def test_only_regular_files_are_read_and_the_error_says_what_the_path_is(
    kind: str, says: str, tmp_path: Path
) -> None:
    with pytest.raises(RefusedFile) as caught:
        read_regular_file(str(_special(kind, tmp_path)), MiB)
    assert caught.value.strerror == f"{says}, not a regular file"


def test_a_file_whose_size_stat_does_not_tell_is_still_read_only_up_to_the_limit() -> None:
    assert b"VmHWM" in read_regular_file("/proc/self/status", MiB)  # st_size is 0
    with pytest.raises(RefusedFile, match=r"larger than the 10 bytes limit \(found while"):
        read_regular_file("/proc/self/status", 10)


def test_a_gzip_bomb_in_a_redis_reference_stops_at_the_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(reference, "MAX_REFERENCE_BYTES", MiB)
    model = make_config(tmp_path, "redis://127.0.0.1:1/0").models[0]
    fields = {k.encode(): v for k, v in encode_for_redis(b"0" * (2 * MiB), "csv").items()}
    with pytest.raises(
        ReferenceError,
        match=r"^model 'm': redis key k: reference is larger than the 1 MiB "
        r"limit once decompressed$",
    ):
        decode_from_redis(model, "k", fields)


def test_a_password_file_that_is_a_fifo_fails_the_login_at_once(tmp_path: Path) -> None:
    fifo = _special("FIFO", tmp_path)
    with pytest.raises(redis.AuthenticationError, match=r"FIFO \(named pipe\), not a regular"):
        PasswordFile(None, str(fifo)).get_credentials()


def test_a_redis_tls_file_that_is_a_fifo_is_a_config_error(tmp_path: Path) -> None:
    fifo = _special("FIFO", tmp_path)
    text = f"redis: {{url: 'rediss://r:6380', tls: {{ca_file: {fifo}}}}}\nmodels: []\n"
    with pytest.raises(ConfigError, match=f"^redis.tls.ca_file: not a regular file: {fifo}$"):
        load_config_text(text)


def test_the_web_config_file_has_the_same_limits(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(ALIAS_BOMB)
    with pytest.raises(ConfigError, match=r"^--web\.config\.file: .*more than 100,000 values"):
        load_web_config(str(path))


def test_sighup_asks_for_a_reload_and_sigterm_for_a_stop() -> None:
    stopped = threading.Event()
    events = SignalEvents(on_stop=stopped.set, exit_process=lambda code: None)
    with events.installed():
        os.kill(os.getpid(), signal.SIGHUP)
        wait_for(events.reload.is_set, 5, what="the reload request")
        assert not events.stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(stopped.is_set, 5, what="the stop request")
        assert events.stop.is_set()


def test_a_clean_stop_that_hangs_past_the_deadline_exits_the_process_with_code_1() -> None:
    exits: list[int] = []
    events = SignalEvents(deadline=0.5, exit_process=exits.append)
    with events.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(lambda: exits == [EXIT_HUNG], 10, what="the deadline to fire")


def test_a_clean_stop_within_the_deadline_never_exits_the_process() -> None:
    exits: list[int] = []
    events = SignalEvents(deadline=60.0, exit_process=exits.append)
    with events.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(events.stop.is_set, 5, what="the stop request")
    # the thread that would exit is gone, so nothing can exit the process later
    assert "signals" not in [t.name for t in threading.enumerate()]
    assert exits == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_memory_error_in_a_reload_is_counted_and_later_reloads_still_apply(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(3), 500))
    path = tmp_path / "config.yaml"
    path.write_text(
        f"redis: {{url: '{redis_server.url}'}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("m")
    )
    daemon = Daemon(make_config(tmp_path, redis_server.url), config_path=str(path))

    def exhausted(_: str) -> None:
        raise MemoryError

    monkeypatch.setattr("exporter.daemon.daemon.load_config", exhausted)
    asked = threading.Event()
    daemon.start()
    stopped = threading.Event()
    watch = threading.Thread(target=daemon.watcher.follow, args=(asked, stopped), daemon=True)
    watch.start()
    try:
        asked.set()
        wait_for(lambda: _reloads(daemon, "failure") == 1, 10, what="the failure counted")
        monkeypatch.undo()
        asked.set()
        wait_for(lambda: _reloads(daemon, "success") == 1, 30, what="the next reload applied")
        assert watch.is_alive()
    finally:
        daemon.stop()
        stopped.set()
        asked.set()


def _reloads(daemon: Daemon, outcome: str) -> float | None:
    return daemon.registry.get_sample_value("mlmon_config_reloads_total", {"outcome": outcome})


def test_the_loader_reads_events_with_libyaml_where_pyyaml_has_it() -> None:
    """PyYAML's Python parser read about 25,000 values a second: a runaway 2 MiB list took
    5.7 s of CPU to reach the values limit, 1.2 s with libyaml's events."""
    import yaml

    from exporter.yamlfile import _StrictLoader

    names = {cls.__name__ for cls in _StrictLoader.__mro__}
    assert ("CParser" in names) == yaml.__with_libyaml__


def test_a_tab_that_indents_is_named_in_the_syntax_error() -> None:
    """libyaml's message does not name the character it refuses, as PyYAML's did."""
    with pytest.raises(
        ConfigError, match=r"line 2, column 1: .*\(a tab: YAML indents with spaces\)"
    ):
        parse_yaml("models:\n\t- name: m\n", "config.yaml")
