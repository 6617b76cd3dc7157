"""The deployment files: Prometheus config and alert rules (checked and unit-tested by
promtool), and every metric the dashboard and alerts use existing on a real server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from debian_packages import ensure_binary
from prometheus_client.parser import text_string_to_metric_families

from server.gamedef import GameDefinition
from server.net.messages import Input
from server.net.protocol import MessageType
from server.testing import TestClient, running_server

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "tickwire.json"
METRIC = re.compile(r"\btickwire_[a-z0-9_]+\b")


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary; installed from Debian's ``prometheus`` package when missing."""
    return ensure_binary("promtool", "prometheus")


def run_promtool(promtool: str, *args: str) -> str:
    done = subprocess.run(
        [promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_promtool_accepts_alert_rules_when_checked(promtool: str) -> None:
    """``promtool check rules`` finds the alert rules valid, and all nine of them."""
    out = run_promtool(promtool, "check", "rules", "alerts.yml")
    assert "SUCCESS: 9 rules found" in out


def test_promtool_accepts_prometheus_config_when_checked(promtool: str) -> None:
    """``promtool check config`` accepts prometheus.yml and the rule file it loads."""
    out = run_promtool(promtool, "check", "config", "prometheus.yml")
    assert "1 rule files found" in out


def test_alerts_fire_on_bad_series_when_promtool_replays_them(promtool: str) -> None:
    """``promtool test rules``: each alert fires on a bad series and stays quiet on a good one."""
    run_promtool(promtool, "test", "rules", "alerts.test.yml")


def test_every_alert_has_a_promtool_case_where_it_fires() -> None:
    """An alert that can never fire fails here: each rule of alerts.yml is expected firing
    (non-empty ``exp_alerts``) by at least one case of alerts.test.yml, and every case
    names an alert that exists."""
    rules = set(re.findall(r"^\s+- alert: (\w+)$", (PROMETHEUS / "alerts.yml").read_text(), re.M))
    cases = (PROMETHEUS / "alerts.test.yml").read_text()
    tested = set(re.findall(r"alertname: (\w+)\n", cases))
    firing = set(re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels:", cases))
    assert len(rules) == 9
    assert sorted(rules - firing) == [], "alerts never expected to fire"
    assert sorted(tested - rules) == [], "cases of alerts that do not exist"


def test_prometheus_scrapes_the_compose_server_when_configured() -> None:
    """Prometheus scrapes the compose service ``server`` on the port the image exposes."""
    config = (PROMETHEUS / "prometheus.yml").read_text()
    compose = (DEPLOY / "docker-compose.yml").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'targets:\s*\["server:8765"\]', config)
    assert re.search(r"^  server:\n", compose, re.MULTILINE)
    assert "EXPOSE 8765" in dockerfile
    assert "./prometheus:/etc/prometheus" in compose
    assert "./grafana/provisioning:/etc/grafana/provisioning" in compose
    provider = (DEPLOY / "grafana" / "provisioning" / "dashboards" / "tickwire.yml").read_text()
    assert "path: /var/lib/grafana/dashboards" in provider
    assert "./grafana/dashboards:/var/lib/grafana/dashboards" in compose


def referenced_metrics() -> dict[str, set[str]]:
    """tickwire_* names used in the dashboard's queries and the alert rules, by file."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"]]
    alerts = (PROMETHEUS / "alerts.yml").read_text()
    return {
        "dashboard": {m for e in exprs for m in METRIC.findall(e)},
        "alerts": set(METRIC.findall(alerts)),
    }


def exported_names(exposition: str) -> set[str]:
    """Every sample name the exposition can carry, from each family's type."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "gauge": ("",),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


async def test_dashboard_and_alerts_use_only_exported_metrics_when_a_server_runs(
    small_arena: GameDefinition,
) -> None:
    """Every tickwire_* series the dashboard and the alerts query exists on a live /metrics."""
    refs = referenced_metrics()
    assert len(refs["dashboard"]) >= 15
    assert len(refs["alerts"]) >= 4
    async with running_server(small_arena) as srv, TestClient.connect(srv.url) as c:
        state = await c.expect(MessageType.STATE)
        await c.send(Input(tick=state["t"] + 1, x=0.5, y=0.0))
        await c.expect(MessageType.STATE)
        exposition = srv.metrics.exposition().decode()
    exported = exported_names(exposition)
    for where, names in refs.items():
        missing = sorted(names - exported)
        assert missing == [], f"{where} queries metrics the server does not export: {missing}"


def test_dashboard_panels_cover_the_operations_view_when_loaded() -> None:
    """The dashboard has the panels operators need, each with a query and a unit."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "tickwire"
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for needed in ("Tick duration", "lateness", "overruns", "Clients", "Bytes", "errors"):
        assert needed.lower() in titles.lower(), needed
    for p in dashboard["panels"]:
        assert p["targets"], p["title"]
        assert p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert p["datasource"]["uid"] == "prometheus"
    ds = (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert "uid: prometheus" in ds
    assert "url: http://prometheus:9090" in ds
