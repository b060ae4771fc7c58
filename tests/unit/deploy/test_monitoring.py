"""Prometheus configuration and rules, Grafana provisioning and dashboards."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.deploy.promql import SYNTHETIC, metric_names
from tests.unit.deploy.stack import (
    COMPOSE,
    PROMETHEUS,
    PROVISIONING,
    REPO,
    RULES,
    dashboards,
    load_yaml,
    panels,
    queried_expressions,
    with_defaults,
)

METRIC_SOURCES = ("producers/metrics.py", "stream_app/metrics.py",
                  "alerting/metrics.py", "trainer/metrics.py")


def _mounts(service: str) -> dict[str, Path]:
    """Container path -> repository path of a compose service's bind mounts."""
    spec = load_yaml(COMPOSE)["services"][service]
    mounts = {}
    for volume in spec.get("volumes", []):
        source, target = with_defaults(volume).split(":")[:2]
        mounts[target] = (REPO / source).resolve()
    return mounts


def _in_container(service: str, path: str) -> Path:
    for target, source in _mounts(service).items():
        if path == target or path.startswith(target + "/"):
            return source / path[len(target):].lstrip("/")
    raise AssertionError(f"{path} is not mounted into {service}")


def test_prometheus_rule_files_are_mounted_and_valid() -> None:
    config = load_yaml(PROMETHEUS)
    for rule_file in config["rule_files"]:
        assert _in_container("prometheus", rule_file) == RULES.resolve()
    for group in load_yaml(RULES)["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["expr"]
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"]
            assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s"))


def test_prometheus_scrapes_services_of_the_stack() -> None:
    services = set(load_yaml(COMPOSE)["services"])
    for job in load_yaml(PROMETHEUS)["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host = target.split(":")[0]
                assert host == "localhost" or host in services, target
        for dns in job.get("dns_sd_configs", []):
            assert set(dns["names"]) <= services


def test_grafana_provisioning_points_at_the_mounted_dashboards() -> None:
    datasource = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")
    [source] = datasource["datasources"]
    assert source["url"] == "http://prometheus:9090"
    provider = load_yaml(PROVISIONING / "dashboards" / "flare-warning.yml")
    [files] = provider["providers"]
    assert _in_container("grafana", files["options"]["path"]) == \
        (REPO / "deploy" / "grafana" / "dashboards").resolve()
    assert _in_container("grafana", "/etc/grafana/provisioning") == \
        PROVISIONING.resolve()


def test_dashboards_are_valid_and_use_the_provisioned_datasource() -> None:
    uid = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")[
        "datasources"][0]["uid"]
    boards = dashboards()
    assert {"service-health.json", "model.json", "data-freshness.json"} <= set(boards)
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: repeated panel ids"
        for panel in panels(board):
            where = f"{name}: {panel['title']}"
            assert panel["datasource"]["uid"] == uid, where
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["expr"].count("(") == target["expr"].count(")"), where


def test_dashboards_cover_what_the_issue_asks() -> None:
    queried = " ".join(queried_expressions().values())
    wanted = {
        "latency": "flare_stream_latency_seconds_bucket",
        "consumer lag": "flare_stream_consumer_lag",
        "errors": "flare_stream_quarantined_total",
        "model version": "flare_stream_model_info",
        "alert counts": "flare_stream_alerts_total",
        "freshness per satellite": "flare_stream_data_age_seconds",
    }
    missing = [what for what, metric in wanted.items() if metric not in queried]
    assert not missing


def test_every_queried_metric_is_defined_in_service_code() -> None:
    code = "\n".join((REPO / p).read_text() for p in METRIC_SOURCES
                     if (REPO / p).exists())
    defined = set(re.findall(r'(?:Counter|Gauge|Histogram|Summary)\(\s*"(\w+)"', code))
    series = set(defined)
    for name in defined:
        series |= {f"{name}_total", f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    unknown = {
        f"{where}: {metric}"
        for where, expr in queried_expressions().items()
        for metric in metric_names(expr)
        if metric not in series and metric not in SYNTHETIC
    }
    assert not unknown, "queried but defined by no service"


def test_dashboard_json_is_committed_formatted() -> None:
    for path in sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json")):
        text = path.read_text()
        assert text.endswith("\n") and "\t" not in text, path.name
