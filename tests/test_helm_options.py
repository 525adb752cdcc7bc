"""Chart options an operator turns: rule tweaks, dashboards, routing, network policy."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.test_helm import CHART, helm, one, render, stage_chart

RULES = """groups:
  - name: ml-drift
    rules:
      - alert: MLFeatureDrift
        expr: max by (model, feature) (mlmon_feature_drift_detected) == 1
        for: 15m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.feature }} of {{ $labels.model }} drifted"
          runbook_url: https://runbooks.invalid/docs/runbooks/MLFeatureDrift.md
      - alert: MLExporterRedisDown
        expr: mlmon_redis_up == 0
        for: 5m
        labels: {severity: critical, team: data}
      - alert: MLPredictionDrift
        expr: mlmon_prediction_drift_detected == 1
        labels: {severity: warning}
      - record: model:mlmon_predictions:rate5m
        expr: sum by (model) (rate(mlmon_predictions_total[5m]))
"""
DASHBOARD = (
    json.dumps(
        {
            "title": "Model {{model}}",
            "panels": [
                {
                    "targets": [
                        {
                            "expr": 'mlmon_model_performance_ratio{model="$model"}',
                            "legendFormat": "{{metric}}",
                        }
                    ]
                }
            ],
        },
        indent=2,
    )
    + "\n"
)


def test_runbook_base_extra_labels_and_disabled_alerts_reshape_the_rules(tmp_path: Path) -> None:
    chart = stage_chart(tmp_path, rules=RULES)
    plain = one(render(chart), "PrometheusRule")["spec"]["groups"]
    assert plain == yaml.safe_load(RULES)["groups"]
    tweaked = one(
        render(
            chart,
            "--set",
            "prometheusRule.runbookUrlBase=https://wiki.invalid/rb/",
            "--set",
            "prometheusRule.extraAlertLabels.team=ml",
            "--set",
            "prometheusRule.disabledAlerts={MLPredictionDrift}",
        ),
        "PrometheusRule",
    )["spec"]["groups"]
    (group,) = tweaked
    drift, redis, record = group["rules"]
    assert (drift["alert"], redis["alert"]) == ("MLFeatureDrift", "MLExporterRedisDown")
    assert drift["annotations"]["runbook_url"] == "https://wiki.invalid/rb/MLFeatureDrift.md"
    assert redis["annotations"] == {"runbook_url": "https://wiki.invalid/rb/MLExporterRedisDown.md"}
    assert drift["annotations"]["summary"] == "{{ $labels.feature }} of {{ $labels.model }} drifted"
    assert drift["labels"] == {"severity": "warning", "team": "ml"}
    assert "labels" not in record and record["record"] == "model:mlmon_predictions:rate5m"


def test_a_misspelt_disabled_alert_fails_the_install_naming_it(tmp_path: Path) -> None:
    """prometheusRule.disabledAlerts={MLMonPredictionDrfit} was accepted and the alert it meant
    kept firing."""
    chart = stage_chart(tmp_path, rules=RULES)
    result = helm(
        "template",
        "mlmon",
        str(chart),
        "--set",
        "prometheusRule.disabledAlerts={MLPredictionDrfit}",
    )
    assert result.returncode != 0
    assert "prometheusRule.disabledAlerts has MLPredictionDrfit" in result.stderr
    assert "MLExporterRedisDown, MLFeatureDrift, MLPredictionDrift" in result.stderr


def test_an_alerts_own_label_wins_over_an_extra_label(tmp_path: Path) -> None:
    chart = stage_chart(tmp_path, rules=RULES)
    groups = one(
        render(chart, "--set", "prometheusRule.extraAlertLabels.team=ml"), "PrometheusRule"
    )["spec"]["groups"]
    labels = {r["alert"]: r["labels"] for r in groups[0]["rules"] if "alert" in r}
    assert labels["MLExporterRedisDown"]["team"] == "data"


def test_grafana_templates_in_a_dashboard_reach_the_config_map_untouched(tmp_path: Path) -> None:
    chart = stage_chart(tmp_path, dashboards={"ml_model.json": DASHBOARD})
    maps = [
        d
        for d in render(chart, "--set", "dashboards.annotations.grafana_folder=ML")
        if d["kind"] == "ConfigMap" and "ml_model.json" in d["data"]
    ]
    (cm,) = maps
    assert cm["data"]["ml_model.json"] == DASHBOARD
    assert cm["metadata"]["name"] == "mlmon-ml-monitoring-exporter-dashboard-ml-model"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "ML"}


def test_turning_dashboards_and_rules_off_renders_neither(tmp_path: Path) -> None:
    chart = stage_chart(tmp_path, rules=RULES, dashboards={"d.json": DASHBOARD})
    docs = render(
        chart, "--set", "dashboards.enabled=false", "--set", "prometheusRule.enabled=false"
    )
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]
    assert not [d for d in docs if "grafana_dashboard" in d["metadata"].get("labels", {})]


def test_the_alertmanager_config_routes_each_severity_to_its_receiver(tmp_path: Path) -> None:
    chart = stage_chart(tmp_path)
    config = one(render(chart, "-f", str(CHART / "ci" / "full-values.yaml")), "AlertmanagerConfig")
    route = config["spec"]["route"]
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert route["receiver"] == "chat"
    by_severity = {r["matchers"][0]["value"]: r["receiver"] for r in route["routes"]}
    assert by_severity == {"critical": "pager", "warning": "chat"}
    assert {r["name"] for r in config["spec"]["receivers"]} == {"chat", "pager"}


def test_an_alertmanager_config_without_a_default_receiver_is_refused(tmp_path: Path) -> None:
    result = helm(
        "template", "mlmon", str(stage_chart(tmp_path)), "--set", "alertmanagerConfig.enabled=true"
    )
    assert result.returncode != 0
    assert "alertmanagerConfig.defaultReceiver" in result.stderr


def test_the_network_policy_admits_only_the_metrics_port_from_the_given_namespaces(
    tmp_path: Path,
) -> None:
    chart = stage_chart(tmp_path)
    policy = one(
        render(
            chart,
            "--set",
            "networkPolicy.enabled=true",
            "--set",
            "networkPolicy.allowedNamespaces={monitoring,observability}",
        ),
        "NetworkPolicy",
    )["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    (peer,) = rule["from"]
    (expr,) = peer["namespaceSelector"]["matchExpressions"]
    assert expr["values"] == ["monitoring", "observability"]


def test_the_service_monitor_carries_the_release_label_kube_prometheus_stack_selects(
    tmp_path: Path,
) -> None:
    chart = stage_chart(tmp_path)
    monitor = one(
        render(
            chart,
            "--set",
            "serviceMonitor.additionalLabels.release=kps",
            "--set",
            "serviceMonitor.interval=15s",
        ),
        "ServiceMonitor",
    )
    assert monitor["metadata"]["labels"]["release"] == "kps"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["interval"] == "15s"
    service = one(render(chart), "Service")
    assert service["spec"]["ports"][0]["name"] == "metrics"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_the_chart_readme_documents_every_value() -> None:
    whole = {
        "config",
        "resources",
        "podSecurityContext",
        "securityContext",
        "livenessProbe",
        "readinessProbe",
    }
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    keys: list[str] = []
    for top, value in values.items():
        nested = isinstance(value, dict) and value and top not in whole
        keys += [f"{top}.{sub}" for sub in value] if nested else [top]
    readme = (CHART / "README.md").read_text()
    assert [k for k in keys if f"| `{k}` |" not in readme] == []
