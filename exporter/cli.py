"""The `ml-monitoring-exporter` command: run, check-config, demo and reference load."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import redis

from exporter import __version__
from exporter.config import ConfigError, load_config
from exporter.logs import setup_logging
from exporter.reference.load import ReferenceError
from exporter.web.http import ListenError

if TYPE_CHECKING:
    from exporter.web.webconfig import WebSecurity

# The statistics stack (scipy) takes seconds to import, so each command imports what it needs
# after the config has loaded: a hostile or broken config is refused in a fraction of that.

EXIT_CONFIG = 2
COMMANDS = ("run", "check-config", "demo", "reference")

log = logging.getLogger("exporter.cli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml-monitoring-exporter",
        description="Prometheus exporter for drift, data quality and performance of ML models.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command")
    _run_parser(sub)
    _check_parser(sub)
    _demo_parser(sub)
    _reference_parser(sub)
    return parser


def _run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the exporter (the default command)")
    _config_arg(run)
    run.add_argument(
        "--shard",
        metavar="INDEX/COUNT",
        help="export only this replica's share of the models; INDEX may be `auto` "
        "(the ordinal at the end of a StatefulSet pod's hostname)",
    )
    run.add_argument(
        "--web.listen-address",
        dest="listen_address",
        metavar="HOST:PORT",
        help="override web.listen_address from the config",
    )
    _web_config_arg(run)
    _log_args(run)


def _check_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("check-config", help="validate a config file and its references")
    _config_arg(check)
    _web_config_arg(check)
    check.add_argument(
        "--redis.connect",
        dest="redis_connect",
        action="store_true",
        help="also connect and authenticate to Redis, and fit every reference kept in a Redis key",
    )


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run on an embedded Redis with simulated models")
    demo.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default="127.0.0.1:10135",
        metavar="HOST:PORT",
    )
    demo.add_argument(
        "--redis.port",
        dest="redis_port",
        type=int,
        default=0,
        help="port of the embedded Redis (0 picks a free one)",
    )
    demo.add_argument(
        "--drift-after",
        dest="drift_after",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="when the simulated fraud model starts drifting",
    )
    _log_args(demo, default_format="text")


def _reference_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ref = sub.add_parser("reference", help="manage reference data sets")
    ref_sub = ref.add_subparsers(dest="action", required=True)
    load = ref_sub.add_parser("load", help="write a reference file into the model's Redis key")
    _config_arg(load)
    load.add_argument("--model", required=True, help="model name from the config")
    load.add_argument("--file", required=True, help="CSV or JSON Lines reference file")


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config.file",
        dest="config_file",
        required=True,
        metavar="PATH",
        help="path of the YAML config file",
    )


def _web_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        default=None,
        help="exporter-toolkit web config: TLS and basic auth of the listener",
    )


def _web_security(path: str | None) -> WebSecurity | None:
    """The web config, with its certificates loaded once so check-config catches bad ones."""
    from exporter.web.webconfig import load_web_config, ssl_context

    if path is None:
        return None
    web = load_web_config(path)
    if web.tls is not None:
        ssl_context(web.tls)
    return web


def _log_args(p: argparse.ArgumentParser, default_format: str = "json") -> None:
    p.add_argument(
        "--log.format", dest="log_format", choices=("json", "text"), default=default_format
    )
    p.add_argument(
        "--log.level", dest="log_level", default=None, choices=("debug", "info", "warning", "error")
    )


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
    config = load_config(args.config_file)
    setup_logging(args.log_format, args.log_level or config.log_level)
    from exporter.daemon import Daemon
    from exporter.daemon.shard import Shard, parse_shard

    try:
        shard = parse_shard(args.shard) if args.shard else Shard()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Daemon(
        config,
        listen_address=args.listen_address,
        config_path=args.config_file,
        shard=shard,
        web=_web_security(args.web_config_file),
    ).run_until_signalled()


def _reference_load(args: argparse.Namespace) -> int:
    from exporter.evaluate.fit import fit_reference
    from exporter.files import read_regular_file
    from exporter.reference.load import (
        MAX_REFERENCE_BYTES,
        format_of,
        parse_reference,
        store_in_redis,
    )

    config = load_config(args.config_file)
    model = next((m for m in config.models if m.name == args.model), None)
    if model is None:
        raise ConfigError(f"--model: no model named {args.model!r} in {args.config_file}")
    key = model.reference.redis_key
    if key is None:
        raise ConfigError(f"models[{args.model}].reference: not a redis_key reference")
    fmt = format_of(args.file)
    try:
        content = read_regular_file(args.file, MAX_REFERENCE_BYTES)
    except OSError as exc:
        raise ReferenceError(f"--file: cannot read {args.file}: {exc.strerror or exc}") from None
    data = parse_reference(model, content, fmt, args.file)
    fit_reference(model, data)
    from exporter.source.connect import make_client

    try:
        store_in_redis(make_client(config.redis), key, content, fmt)
    except redis.RedisError as exc:
        from exporter.source.connect import describe

        raise ReferenceError(
            f"models[{model.name}].reference.redis_key: {describe(exc, config.redis, key)}"
        ) from None
    print(f"loaded {data.rows} rows for model {model.name} into {key}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; exits 2 on a bad config or reference, with the culprit in the message."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in COMMANDS and args_list[0].startswith("--config"):
        args_list.insert(0, "run")
    args = _parser().parse_args(args_list)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check-config":
            return _check(args)
        if args.command == "demo":
            from exporter.demo.runner import run_demo

            setup_logging(args.log_format, args.log_level or "info")
            return run_demo(args.listen_address, args.redis_port, args.drift_after)
        if args.command == "reference":
            return _reference_load(args)
    except (ConfigError, ReferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (OSError, redis.RedisError, ListenError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _parser().print_help()
    return EXIT_CONFIG
