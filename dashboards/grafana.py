"""Builders for Grafana dashboard JSON, so the three dashboards share one set of conventions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DS: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
BASE_THRESHOLDS: dict[str, Any] = {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
REFERENCE_LINES = "^(threshold|min|max|reference|SLO target) .*"
TAGS = ["ml-monitoring"]
# kube-prometheus-stack's convention: a hidden `cluster` variable matched with `=`, so a single
# Prometheus (no cluster label: the variable is empty) and a multi-cluster store both work.
CLUSTER = 'cluster="$cluster"'
NAMESPACE = 'namespace=~"$namespace"'
# Where a browser reaches the exporter's drill-down pages: web.external_url when the exporter has
# one, else the address Prometheus scrapes it at; editable, since neither may be reachable.
EXPORTER_URL = "${exporter_url}"

Json = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """One PromQL target; instant queries feed tables and stats."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Selectors:
    """Builds selectors that always carry the cluster and namespace matchers, and the model one
    when asked."""

    model_op: str = "="

    def __call__(self, metric: str, *, model: bool = True, feature: bool = False,
                 extra: str = "") -> str:
        """`metric{cluster="$cluster", namespace=~"$namespace", model="$model", ...}`."""
        parts = [CLUSTER, NAMESPACE]
        if model:
            parts.append(f'model{self.model_op}"$model"')
        if feature:
            parts.append('feature=~"$feature"')
        if extra:
            parts.append(extra)
        return f"{metric}{{{', '.join(parts)}}}"

    def gauge(self, metric: str, labels: str = "", *, feature: bool = False,
              extra: str = "") -> str:
        """A per-model gauge once across replica pods (see once), by namespace, model and its
        own `labels` ("feature, method"), so a panel draws each of its series once."""
        own = ", ".join(["namespace", "model", *labels.replace(",", " ").split()])
        return once(self(metric, feature=feature, extra=extra), own)


def rate(selector: str) -> str:
    """A per-second rate over Grafana's scrape-aware interval."""
    return f"rate({selector}[$__rate_interval])"


def once(expr: str, labels: str) -> str:
    """`expr` once per series of a model, however many pods export it.

    Replicas (the chart's replicaCount) each read every stream and export the same counts of
    the same model, so a sum over pods would count every record once per replica; the max by
    the series' own labels (namespace, model and the metric's labels) keeps one copy. A sharded
    pod set exports each model from one pod, where max and sum agree. Sum the result across
    versions, reasons or models, never the pods.
    """
    return f"max by ({labels}) ({expr})"


def target(q: Query, ref: str) -> Json:
    """A Prometheus target on the dashboard's data-source variable."""
    out: Json = {"datasource": DS, "refId": ref, "expr": q.expr, "legendFormat": q.legend,
                 "editorMode": "code", "range": not q.instant, "instant": q.instant}
    if q.instant:
        out["format"] = "table"
    return out


def field_config(unit: str, *, mappings: list[Json] | None = None,
                 overrides: list[Json] | None = None, custom: Json | None = None,
                 color: str = "palette-classic", fixed_color: str | None = None,
                 **extra: Any) -> Json:
    """Defaults with a unit and only the base threshold step: lines come from exported metrics.

    `fixed_color` belongs inside `color` (Grafana ignores a `defaults.fixedColor` and draws gray).
    """
    color_config: Json = {"mode": color}
    if fixed_color is not None:
        color_config["fixedColor"] = fixed_color
    defaults: Json = {"unit": unit, "color": color_config, "mappings": mappings or [],
                      "thresholds": BASE_THRESHOLDS, **extra}
    if custom is not None:
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": overrides or []}


def dashed_reference_lines() -> Json:
    """Series named threshold/min/max/reference/SLO target are drawn dashed, without fill."""
    return {"matcher": {"id": "byRegexp", "options": REFERENCE_LINES},
            "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                           {"id": "custom.lineWidth", "value": 2}]}


def state_mappings(ok: str, bad: str) -> list[Json]:
    """0 and 1 of a `*_detected` gauge as words and colours (states, not thresholds)."""
    return [{"type": "value", "options": {
        "0": {"text": ok, "color": "green", "index": 0},
        "1": {"text": bad, "color": "red", "index": 1}}}]


def timeseries(title: str, description: str, unit: str, queries: list[Query], *,
               log: bool = False, overrides: list[Json] | None = None) -> Json:
    """A line chart whose reference series (thresholds, bounds, targets) are dashed."""
    custom: Json = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0, "showPoints": "never",
                    "spanNulls": False, "thresholdsStyle": {"mode": "off"}}
    if log:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    return {"type": "timeseries", "title": title, "description": description,
            "fieldConfig": field_config(unit, custom=custom,
                                        overrides=[dashed_reference_lines(), *(overrides or [])]),
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "showLegend": True, "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": queries}


def stat(title: str, description: str, unit: str, query: Query,
         mappings: list[Json] | None = None) -> Json:
    """A single current value, coloured by value mappings only."""
    return {"type": "stat", "title": title, "description": description,
            "fieldConfig": field_config(unit, mappings=mappings, color="fixed",
                                        fixed_color="blue"),
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "auto",
                        "justifyMode": "auto", "orientation": "auto"},
            "targets": [query]}


def state_timeline(title: str, description: str, unit: str, query: Query,
                   lo: float, hi: float) -> Json:
    """Rows over time coloured on a continuous scale: a heatmap of one value per series."""
    return {"type": "state-timeline", "title": title, "description": description,
            "fieldConfig": field_config(unit, color="continuous-GrYlRd", min=lo, max=hi,
                                        custom={"fillOpacity": 80, "lineWidth": 0}),
            "options": {"showValue": "never", "mergeValues": False, "rowHeight": 0.9,
                        "legend": {"showLegend": False, "displayMode": "list",
                                   "placement": "bottom"},
                        "tooltip": {"mode": "single", "sort": "none"}},
            "targets": [query]}


def column(ref: str, name: str, unit: str, extra: list[Json] | None = None) -> Json:
    """A table override naming and formatting the value column of one instant query."""
    return {"matcher": {"id": "byName", "options": f"Value #{ref}"},
            "properties": [{"id": "displayName", "value": name}, {"id": "unit", "value": unit},
                           *(extra or [])]}


def table(title: str, description: str, queries: list[Query], columns: list[Json],
          keys: list[str]) -> Json:
    """Instant queries merged into one row per key; `keys` are the label columns shown."""
    hidden = {name: True for name in ("Time", "job", "instance")}
    return {"type": "table", "title": title, "description": description,
            "fieldConfig": field_config("none", color="thresholds", overrides=columns,
                                        custom={"align": "auto",
                                                "cellOptions": {"type": "color-text"}}),
            "options": {"showHeader": True, "cellHeight": "sm",
                        "sortBy": [{"displayName": keys[-1], "desc": False}]},
            "transformations": [{"id": "merge", "options": {}},
                                {"id": "organize", "options": {"excludeByName": hidden}}],
            "targets": queries}


def row(title: str) -> Json:
    """A row header; it holds no query."""
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def datasource_variable() -> Json:
    """The data-source picker every panel and target refers to as ${datasource}."""
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
            "includeAll": False, "multi": False, "options": []}


def query_variable(name: str, label: str, query: str, *, all_value: str | None = None,
                   multi: bool = False, include_all: bool = True, hide: int = 0,
                   regex: str = "") -> Json:
    """A label_values variable; `.*` as the all value also matches series without the label."""
    out: Json = {"name": name, "label": label, "type": "query", "datasource": DS,
                 "definition": query, "query": {"query": query, "refId": f"{name}-values"},
                 "refresh": 2, "sort": 1, "includeAll": include_all, "multi": multi,
                 "current": {}, "hide": hide, "options": [], "regex": regex}
    if all_value is not None:
        out["allValue"] = all_value
    if include_all:
        out["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return out


def label_values(metric: str, label: str, *, model_op: str | None = None, extra: str = "") -> str:
    """`label_values(metric{cluster=..., namespace=..., [model...]}, label)` for a variable."""
    selector = Selectors(model_op or "=")(metric, model=model_op is not None, extra=extra)
    return f"label_values({selector}, {label})"


def cluster_variable() -> Json:
    """Hidden, as kube-prometheus-stack's: empty (matching series without the label) on a single
    Prometheus; the first cluster, or `var-cluster` from the URL, on a multi-cluster store."""
    return query_variable("cluster", "Cluster", "label_values(mlmon_build_info, cluster)",
                          include_all=False, hide=2)


def namespace_variable() -> Json:
    """Namespaces of the chosen cluster that run an exporter; All (`.*`) also matches no label."""
    return query_variable("namespace", "Namespace", f"label_values(mlmon_build_info{{{CLUSTER}}}, "
                          "namespace)", all_value=".*", multi=True)


def exporter_url_variable() -> Json:
    """The exporter's URL for links: its `web.external_url` (the `external_url` label of
    `mlmon_build_info`), else `http://` and the address Prometheus scrapes it at, never a path on
    the Grafana host. A custom value can be typed (a port-forward, an ingress)."""
    info = Selectors()("mlmon_build_info", model=False)
    configured = info.replace("}", ', external_url!=""}')
    unset = info.replace("}", ', external_url=""}')
    expr = (f'max by (url) (label_replace({configured}, "url", "$1", "external_url", "(.+)"))'
            f' or max by (url) (label_replace({unset}, "url", "http://$1", "instance", "(.+)"))')
    out = query_variable("exporter_url", "Exporter URL", f"query_result({expr})",
                         include_all=False, regex='/url="([^"]+)"/')
    # On load (and when cluster or namespace change), not on every time range: a typed value stays.
    out.update(refresh=1, allowCustomValue=True)
    return out


@dataclass
class Layout:
    """Places panels left to right on Grafana's 24-column grid and numbers them."""

    panels: list[Json] = field(default_factory=list)
    x: int = 0
    y: int = 0
    row_height: int = 0

    def add(self, panel: Json, w: int = 12, h: int = 8) -> None:
        """Append `panel`, wrapping to a new line when it does not fit."""
        if panel["type"] == "row":
            w, h = 24, 1
        if self.x + w > 24 or panel["type"] == "row":
            self.newline()
        panel = {"id": len(self.panels) + 1, "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h},
                 **panel}
        if panel["type"] != "row":
            panel["datasource"] = DS
            panel["targets"] = [target(q, chr(ord("A") + i))
                                for i, q in enumerate(panel["targets"])]
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)
        if panel["type"] == "row":
            self.newline()

    def newline(self) -> None:
        """Start the next line below the tallest panel of this one."""
        self.y += self.row_height
        self.x = 0
        self.row_height = 0


def dashboard(uid: str, title: str, description: str, variables: list[Json],
              layout: Layout, links: list[Json] | None = None,
              annotations: list[Json] | None = None) -> Json:
    """The dashboard envelope: stable uid, no __inputs, variables and cross-links.

    Every dashboard gets the data source, cluster and namespace variables first; `variables`
    follow them.
    """
    nav = {"type": "dashboards", "tags": TAGS, "asDropdown": True, "title": "ML monitoring",
           "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
           "tooltip": "", "url": ""}
    return {"uid": uid, "title": title, "description": description, "id": None,
            "tags": TAGS, "editable": True, "graphTooltip": 1, "timezone": "",
            "refresh": "1m", "schemaVersion": 39, "version": 1, "liveNow": False,
            "time": {"from": "now-6h", "to": "now"}, "timepicker": {}, "fiscalYearStartMonth": 0,
            "annotations": {"list": annotations or []}, "links": [nav, *(links or [])],
            "templating": {"list": [datasource_variable(), cluster_variable(),
                                    namespace_variable(), *variables]},
            "panels": layout.panels}
