"""The `ml-monitoring-exporter` command: run (the default), check-config, demo and reference."""

from __future__ import annotations

import gc
import signal
import threading

# `run` and `demo` take SIGHUP as a reload once their handlers are in place; until then (the
# imports below, the daemon's build: seconds) its default action ended the process, and a
# ConfigMap reloader signalling a starting pod killed it. The config watcher compares the
# file with the bytes that were loaded, so an edit made meanwhile is still applied.
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

# These imports (the config models, redis-py, numpy) allocate objects by the hundred thousand,
# none of them garbage: the collections that set off took a tenth of every command's start.
# Frozen afterwards, later collections skip them: the interpreter's teardown took 80 ms less
# (a sixth of `--version`) and the daemon's full collections walk only what it allocates.
_COLLECTING = gc.isenabled()
gc.disable()
try:
    import argparse
    import logging
    import sys
    from collections.abc import Sequence
    from typing import TYPE_CHECKING

    import redis

    from exporter.cli.flags import parser, with_default_command
    from exporter.cli.reference import reference_load, reference_show
    from exporter.config import ConfigError, load_config
    from exporter.logs import setup_logging
    from exporter.reference.load import ReferenceError
    from exporter.yamlfile import fingerprint
finally:
    gc.freeze()
    if _COLLECTING:
        gc.enable()

# The daemon's reader allocates containers by the ten thousand per read (an XREAD reply's
# lists and tuples, the entries' dicts), most of them alive until the read is handed on. At
# CPython's default of 700 allocations between collections, those still in use were promoted
# and walked again by the older generations: 100 models catching up a backlog read at 0.7 of
# one model's rate. At 10,000 far fewer are still in use when a collection runs; memory is
# freed by reference counting all the same (the collector only finds cycles).
DAEMON_GC_THRESHOLD = (10_000, 10, 10)

if TYPE_CHECKING:
    from exporter.web.webconfig import WebSecurity

# The statistics stack (scipy) takes seconds to import, so each command imports what it needs
# after the config has loaded: a hostile or broken config is refused in a fraction of that.
# The HTTP server (cheroot, prometheus_client) is imported by the commands that listen only:
# `reference load` is timed end to end by users loading references in a deploy step.

EXIT_CONFIG = 2

log = logging.getLogger("exporter.cli")


class MissingExtra(Exception):
    """A command needs an optional dependency that is not installed."""


class CannotListen(Exception):
    """The listener cannot bind (a ListenError, raised again where web/ is imported)."""


def _web_security(path: str | None) -> WebSecurity | None:
    """The web config, with its certificates loaded once so check-config catches bad ones."""
    from exporter.web.webconfig import load_web_config, ssl_context

    if path is None:
        return None
    web = load_web_config(path)
    if web.tls is not None:
        try:
            ssl_context(web.tls)
        except ConfigError as exc:  # named like load_web_config's errors: the file, the key
            raise ConfigError(f"{path}: {exc.path}", exc.reason) from None
    return web


def _check(args: argparse.Namespace) -> int:
    """The validation start-up and reload use, plus Redis when asked (--redis.connect)."""
    config = load_config(args.config_file)
    from exporter.daemon.validate import check_config
    from exporter.source.connect import make_client

    check_config(config, make_client(config.redis) if args.redis_connect else None)
    _web_security(args.web_config_file)
    print(
        f"{args.config_file}: ok"
        + (
            " (redis reachable, references fitted)"
            if args.redis_connect
            else " (redis not contacted: --redis.connect checks it)"
        )
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    loaded = fingerprint(args.config_file)  # before the load: an edit after it is a change
    config = load_config(args.config_file)
    setup_logging(args.log_format, args.log_level or config.log_level)
    gc.set_threshold(*DAEMON_GC_THRESHOLD)
    from exporter.daemon import Daemon
    from exporter.daemon.shard import Shard, parse_shard
    from exporter.web.http import ListenError

    try:
        shard = parse_shard(args.shard) if args.shard else Shard()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        daemon = Daemon(
            config,
            listen_address=args.listen_address,
            config_path=args.config_file,
            shard=shard,
            web=_web_security(args.web_config_file),
            telemetry_path=args.telemetry_path,
            log_level=args.log_level,
        )
        daemon.watcher.seen = loaded  # an edit made during the start-up is a change
        return daemon.run_until_signalled()
    except ListenError as exc:
        raise CannotListen(str(exc)) from None


def _demo(args: argparse.Namespace) -> int:
    try:
        from exporter.demo.runner import run_demo
    except ModuleNotFoundError as exc:
        if exc.name != "fakeredis":
            raise
        raise MissingExtra(
            "the demo needs fakeredis, which the `demo` extra installs: "
            "pip install 'ml-monitoring-exporter[demo]' (or, in a checkout, pip install '.[demo]')"
        ) from None
    from exporter.web.http import ListenError

    setup_logging(args.log_format, args.log_level or "info")
    gc.set_threshold(*DAEMON_GC_THRESHOLD)
    try:
        return run_demo(args.listen_address, args.redis_port, args.drift_after)
    except ListenError as exc:
        raise CannotListen(str(exc)) from None


def _dispatch(args: argparse.Namespace) -> int | None:
    if args.command == "run":
        return _run(args)
    if args.command == "check-config":
        return _check(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "reference":
        return reference_load(args) if args.action == "load" else reference_show(args)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; exits 2 on a bad config or reference, with the culprit in the message.

    Flags may come in any order, with or without the `run` command in front of them; no
    arguments at all print the help and exit 2.
    """
    args = parser().parse_args(with_default_command(list(sys.argv[1:] if argv is None else argv)))
    try:
        status = _dispatch(args)
    except (ConfigError, ReferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (OSError, redis.RedisError, CannotListen, MissingExtra) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if status is not None:
        return status
    parser().print_help()
    return EXIT_CONFIG
