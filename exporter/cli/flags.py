"""The command line's flags, spelled as promslog and the exporter-toolkit spell them."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from exporter import __version__, build_date, revision
from exporter.logs import LOG_FORMATS, LOG_LEVELS, canonical_format, canonical_level

PROG = "ml-monitoring-exporter"
COMMANDS = ("run", "check-config", "demo", "reference")
# exporter.web.routes.TELEMETRY_PATH (a test keeps them equal): importing web/ for it would
# cost every command, `reference load` included, the listener's TLS and HTTP config models.
TELEMETRY_PATH = "/metrics"


def version_text() -> str:
    """What --version prints, in the layout of `prometheus --version`."""
    lines = [f"{PROG}, version {__version__} (revision: {revision()})"]
    if build_date():
        lines.append(f"  build date:       {build_date()}")
    lines.append(f"  python version:   {platform.python_version()}")
    lines.append(f"  platform:         {sys.platform}/{platform.machine()}")
    return "\n".join(lines)


class _Version(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(version_text())
        parser.exit()


def _telemetry_path(path: str) -> str:
    """exporter.web.routes.check_telemetry_path, imported when `run` reads the flag."""
    from exporter.web.routes import check_telemetry_path

    return check_telemetry_path(path)


def _listen_address(address: str) -> str:
    """The config's check of web.listen_address, imported when `run` reads the flag."""
    from exporter.config.redis_web import read_listen_address
    from exporter.yamlfile import ConfigError

    try:
        return read_listen_address(address)
    except ConfigError as exc:
        raise ValueError(exc.reason) from None


def _checked(check: Any) -> Any:
    """An argparse `type` from a check that raises ValueError with the reason."""

    def convert(value: str) -> Any:
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = check.__name__
    return convert


def parser() -> argparse.ArgumentParser:
    """The whole command line: `run` (the default), check-config, demo and reference."""
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Prometheus exporter for drift, data quality and performance of ML models. "
        f"`run` is the default command: `{PROG} --config.file=PATH` runs the exporter.",
    )
    top.add_argument("--version", action=_Version)
    sub = top.add_subparsers(dest="command", metavar="{run,check-config,demo,reference}")
    run_flags(sub.add_parser("run", help="run the exporter (the default command)"))
    check = sub.add_parser("check-config", help="validate a config file and its references")
    check_flags(check)
    demo_flags(sub.add_parser("demo", help="run on an embedded Redis with simulated models"))
    reference_flags(sub.add_parser("reference", help="load or inspect reference data sets"))
    return top


def run_flags(run: argparse.ArgumentParser) -> None:
    """Flags of `run`: where to listen and serve, what to log, which share of the models."""
    config_flag(run)
    run.add_argument(
        "--web.listen-address",
        dest="listen_address",
        type=_checked(_listen_address),
        metavar="HOST:PORT",
        help="address to listen on (default: web.listen_address from the config, "
        "else 0.0.0.0:10135)",
    )
    run.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        type=_checked(_telemetry_path),
        default=TELEMETRY_PATH,
        metavar="PATH",
        help=f"path under which the metrics are served (default: {TELEMETRY_PATH})",
    )
    web_config_flag(run)
    run.add_argument(
        "--shard",
        metavar="INDEX/COUNT",
        help="export only this replica's share of the models; INDEX may be `auto` "
        "(the ordinal at the end of a StatefulSet pod's hostname)",
    )
    log_flags(run)
    run.add_argument("--version", action=_Version)


def check_flags(check: argparse.ArgumentParser) -> None:
    """Flags of `check-config`."""
    config_flag(check)
    web_config_flag(check)
    check.add_argument(
        "--redis.connect",
        dest="redis_connect",
        action="store_true",
        help="also connect and authenticate to Redis, and fit every reference kept in a Redis key",
    )


def demo_flags(demo: argparse.ArgumentParser) -> None:
    """Flags of `demo` (which needs the `demo` extra)."""
    demo.add_argument(
        "--web.listen-address",
        dest="listen_address",
        type=_checked(_listen_address),
        default="127.0.0.1:10135",
        metavar="HOST:PORT",
        help="address of the demo's exporter (default: 127.0.0.1:10135)",
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
        help="when the simulated fraud model starts drifting (default: 60)",
    )
    log_flags(demo, default_format="logfmt")


def reference_flags(ref: argparse.ArgumentParser) -> None:
    """`reference load` writes a model's Redis key, `reference show` describes what it holds."""
    actions = ref.add_subparsers(dest="action", required=True)
    load = actions.add_parser("load", help="write a reference file into the model's Redis key")
    config_flag(load)
    load.add_argument("--model", required=True, help="model name from the config")
    load.add_argument("--file", required=True, help="CSV, JSON Lines or Parquet reference file")
    show = actions.add_parser(
        "show",
        help="describe the model's reference as the exporter reads it: "
        "sha256, rows, columns, format and size",
    )
    config_flag(show)
    show.add_argument("--model", required=True, help="model name from the config")


def config_flag(p: argparse.ArgumentParser) -> None:
    """--config.file, which every command but demo requires."""
    p.add_argument(
        "--config.file",
        dest="config_file",
        required=True,
        metavar="PATH",
        help="path of the YAML config file",
    )


def web_config_flag(p: argparse.ArgumentParser) -> None:
    """--web.config.file, the exporter-toolkit's TLS and basic auth file."""
    p.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="PATH",
        default=None,
        help="exporter-toolkit web config: TLS and basic auth of the listener",
    )


def log_flags(p: argparse.ArgumentParser, default_format: str = "json") -> None:
    """--log.level and --log.format, with the aliases kept from earlier releases."""
    p.add_argument(
        "--log.level",
        dest="log_level",
        type=_checked(canonical_level),
        default=None,
        metavar="{" + ",".join(LOG_LEVELS) + "}",
        help="log only at this level or above (`warning` is an alias of warn; "
        "default: log_level from the config, else info)",
    )
    p.add_argument(
        "--log.format",
        dest="log_format",
        type=_checked(canonical_format),
        default=default_format,
        metavar="{" + ",".join(LOG_FORMATS) + "}",
        help=f"format of the log lines on stderr (`text` is an alias of logfmt; "
        f"default: {default_format})",
    )


def with_default_command(argv: list[str]) -> list[str]:
    """argv with `run` put first when it starts with a flag (other than --help or --version)."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        return ["run", *argv]
    return argv
