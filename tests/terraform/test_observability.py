"""Each cell's workbook and alerts: what they watch exists in the app's metrics, each alert has
a runbook entry, and the alerts are the workbook's own queries."""

from __future__ import annotations

import re

import pytest

from shared.adapters.telemetry import instruments
from tests.terraform.hcl import MODULES, REPO, Module, unwrap

ALERTS = {"dead-letters", "approval-overdue", "rollout-stuck", "checkpoint-stale", "intake-errors"}
METRIC_NAMES = {
    v
    for k, v in vars(instruments).items()
    if k.isupper() and isinstance(v, str) and v.startswith("clearance.")
}


@pytest.fixture(scope="module")
def cell() -> Module:
    return Module.load(MODULES / "cell")


SPAN_ATTRIBUTES = {
    "clearance.event_id",
    "clearance.artifact_key",
    "clearance.approval_id",
    "clearance.deployment_id",
}


def names_in(query: str) -> set[str]:
    return set(re.findall(r'"(clearance\.[a-z_.]+)"', query)) - SPAN_ATTRIBUTES


def test_every_query_reads_metrics_the_app_exports(cell: Module) -> None:
    queries = cell.locals["ops_queries"]
    used = set().union(*(names_in(str(q)) for q in queries.values()))
    assert used, "no query reads a clearance metric"
    assert used <= METRIC_NAMES, used - METRIC_NAMES
    # every gauge the alerts need is published by the cell_status timer
    for name in (
        "clearance.approvals.overdue",
        "clearance.rollouts.stuck",
        "clearance.lineage.checkpoint_age",
        "clearance.dead_letters.depth",
    ):
        assert name in used


def test_one_alert_per_condition_each_reusing_a_workbook_query(cell: Module) -> None:
    alerts = cell.locals["ops_alerts"]
    assert set(alerts) == ALERTS
    for key, alert in alerts.items():
        assert re.search(r"\$\{local\.ops_queries\.\w+\}", str(alert["query"])), key
    rule = cell.resources["azurerm_monitor_scheduled_query_rules_alert_v2.ops"]
    assert unwrap(rule["for_each"]) == "local.ops_alerts"
    assert "azurerm_application_insights.this.id" in str(rule["scopes"])
    assert "azurerm_monitor_action_group.ops.id" in str(rule["action"])
    assert "docs/operators.md#alert-" in str(rule["description"])


def test_the_checkpoint_alert_is_the_blind_window_target_plus_a_margin(cell: Module) -> None:
    default = cell.variables["checkpoint_age_alert_seconds"]["default"]
    assert 60 < default <= 180


def test_service_bus_dead_letters_alert_on_the_platform_metric(cell: Module) -> None:
    alert = cell.resources["azurerm_monitor_metric_alert.service_bus_dead_letters"]
    criteria = alert["criteria"][0]
    assert criteria["metric_name"] == "DeadletteredMessages"
    assert criteria["metric_namespace"] == "Microsoft.ServiceBus/namespaces"
    assert criteria["threshold"] == 0 and criteria["operator"] == "GreaterThan"


def test_the_workbook_shows_every_query_on_the_cells_application_insights(cell: Module) -> None:
    workbook = cell.resources["azurerm_application_insights_workbook.ops"]
    assert "azurerm_application_insights.this.id" in str(workbook["source_id"])
    assert "uuidv5" in str(workbook["name"])  # a workbook's name must be a GUID
    panels = {p["query"] for p in cell.locals["workbook_panels"]}
    assert panels == set(cell.locals["ops_queries"])


def test_every_alert_has_a_runbook_entry() -> None:
    doc = (REPO / "docs" / "operators.md").read_text(encoding="utf-8")
    for key in ALERTS:
        assert f'<a id="alert-{key}"></a>' in doc, key
