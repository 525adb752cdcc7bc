"""Check a dashboard against our conventions, so an edit made in Grafana's UI cannot break import.

`python -m dashboards.lint dashboards/*.json` prints every breach and exits 1 when there is one.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboards.grafana import CLUSTER, DS, NAMESPACE

KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                      "and", "or", "unless", "offset", "inf", "nan"})
REFERENCE_LEGEND = re.compile(r"^(threshold|min|max|SLO target)\b")
REFERENCE_METRIC = re.compile(r"_(threshold|min|max|target_seconds)\{")
RATE_CALL = re.compile(r"\b(rate|irate|increase)\s*\(")
LITERAL_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(bool\s+)?-?\d")


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel: where it is and its PromQL."""

    panel: str
    ref: str
    expr: str
    legend: str


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> Iterator[PanelQuery]:
    """Every PromQL target of every panel."""
    for panel in panels(dashboard):
        for t in panel.get("targets", []):
            yield PanelQuery(panel.get("title", "?"), t.get("refId", "?"), t.get("expr", ""),
                             t.get("legendFormat", ""))


def variable_metrics(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(variable, metric) of every label_values or query_result variable ('' when unparsed)."""
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            definition = var.get("definition", "")
            m = re.match(r"label_values\(\s*([a-zA-Z_:][\w:]*)", definition)
            result = re.fullmatch(r"query_result\((.*)\)", definition, re.DOTALL)
            if m:
                yield var["name"], m.group(1)
            elif result:
                for metric in sorted(metric_names(result.group(1))) or [""]:
                    yield var["name"], metric
            else:
                yield var["name"], ""


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, keywords or label names)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"(?<![\w:.])\d+(\.\d+)?([eE][-+]?\d+)?", " ", s)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][\w:]*", s):
        if m.group() not in KEYWORDS and not s[m.end():].lstrip().startswith("("):
            names.add(m.group())
    return names


def selectors(expr: str, name: str) -> list[str]:
    """The label matchers of every occurrence of metric `name` ('' when it has none)."""
    pattern = rf"(?<![\w:\"]){re.escape(name)}(?![\w:])\s*(\{{[^}}]*\}})?"
    return [m.group(1) or "" for m in re.finditer(pattern, expr)]


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every key in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def _rate_ranges(expr: str) -> Iterator[str]:
    """The range of every rate/irate/increase call ('' when none is found)."""
    for m in RATE_CALL.finditer(expr):
        depth, i = 1, m.end()
        while i < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        ranges = re.findall(r"\[([^\]]*)\]", expr[m.end():i])
        yield from ranges or [""]


def tree_breaches(d: dict[str, Any]) -> Iterator[str]:
    """Data sources, imports and thresholds anywhere in the JSON."""
    if "__inputs" in d or "__requires" in d:
        yield "dashboard has __inputs/__requires: it would need the import dialog"
    for path, key, value in _walk(d):
        if key == "datasource" and value != DS:
            yield f"{path}: datasource {value!r} is not {DS}"
        if key == "thresholds" and any(s.get("value") is not None for s in value["steps"]):
            yield f"{path}: typed-in threshold steps {value['steps']}"
        if key == "thresholdsStyle" and value.get("mode") != "off":
            yield f"{path}: threshold lines must come from exported threshold metrics"
        if key == "fixedColor" and path.endswith(".defaults"):
            yield f"{path}.fixedColor: Grafana reads it only inside defaults.color (draws gray)"
        if isinstance(value, str) and "${DS_" in value:
            yield f"{path}.{key}: import-time data source placeholder {value!r}"


def panel_breaches(d: dict[str, Any]) -> Iterator[str]:
    """Ids, data sources, units and descriptions of every panel."""
    ids = [p.get("id") for p in panels(d)]
    if len(set(ids)) != len(ids):
        yield f"panel ids are not unique: {ids}"
    for p in panels(d):
        if p.get("type") == "row":
            continue
        where = f"panel {p.get('title')!r}"
        if p.get("datasource") != DS:
            yield f"{where}: datasource is not {DS}"
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            yield f"{where}: no unit"
        if len(p.get("description", "")) < 30:
            yield f"{where}: no description saying how to read it"
        if not p.get("targets"):
            yield f"{where}: no query"
        for t in p.get("targets", []):
            if t.get("datasource") != DS:
                yield f"{where} target {t.get('refId')}: datasource is not {DS}"


def query_breaches(d: dict[str, Any]) -> Iterator[str]:
    """Rate intervals, cluster and namespace matchers and threshold series of every query."""
    for q in queries(d):
        where = f"panel {q.panel!r} query {q.ref}"
        for r in _rate_ranges(q.expr):
            if r != "$__rate_interval":
                yield f"{where}: rate/increase over [{r}] instead of [$__rate_interval]"
        if LITERAL_COMPARISON.search(q.expr):
            yield f"{where}: compares with a typed-in number"
        if REFERENCE_LEGEND.match(q.legend) and not REFERENCE_METRIC.search(q.expr):
            yield f"{where}: reference line {q.legend!r} does not read a threshold metric"
        for name in metric_names(q.expr):
            for matcher in (CLUSTER, NAMESPACE):
                if any(matcher not in s for s in selectors(q.expr, name)):
                    yield f"{where}: {name} without {matcher}"


def variable_breaches(d: dict[str, Any]) -> Iterator[str]:
    """The datasource, cluster and namespace variables every dashboard needs, and their use."""
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        yield "no datasource variable of type prometheus"
    cluster = variables.get("cluster", {})
    if cluster.get("type") != "query" or cluster.get("hide") != 2 or cluster.get("includeAll"):
        yield "cluster variable must be a hidden single-value query (kube-prometheus-stack's)"
    ns = variables.get("namespace", {})
    if not ns.get("includeAll") or ns.get("allValue") != ".*":
        yield "namespace variable must include All as .* (series outside Kubernetes lack it)"
    for name, var in variables.items():
        if var.get("type") != "query" or name == "cluster":
            continue
        for matcher in (CLUSTER, NAMESPACE) if name != "namespace" else (CLUSTER,):
            if matcher not in var.get("definition", ""):
                yield f"variable {name}: query without {matcher}"


def breaches(d: dict[str, Any]) -> list[str]:
    """Every convention the dashboard breaks; empty when it is clean."""
    return [*tree_breaches(d), *panel_breaches(d), *query_breaches(d), *variable_breaches(d)]


def main(argv: list[str]) -> int:
    """Lint the named files."""
    found = 0
    for name in argv:
        for b in breaches(json.loads(Path(name).read_text())):
            print(f"{name}: {b}")
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
