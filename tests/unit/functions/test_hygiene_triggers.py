"""The expiry timer and the Azure DevOps check, called with real binding objects."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import azure.functions.timer
import pytest

import functions.deployment_expiry as expiry_trigger
import functions.devops_checks as check_trigger
from shared.domain.catalog import RegionEntry
from shared.domain.lineage.record import RecordKind
from shared.services.approval.devops_checks import CheckDeps
from shared.services.deploy.expiry import ExpiryDeps
from tests.support import deploy_samples as s
from tests.support.approval_fakes import FakeApprovalStore
from tests.support.deploy_world import World
from tests.support.devops_fakes import IDS, SECRET, MemoryChecks


class NoCallbacks:
    def task_completed(self, check: Any, result: str) -> None:
        raise AssertionError("nothing is decided: no callback")


@pytest.fixture
def checks(cell: RegionEntry, monkeypatch: pytest.MonkeyPatch) -> CheckDeps:
    deps = CheckDeps(
        cell=cell,
        approvals=FakeApprovalStore(),
        checks=MemoryChecks(),
        callbacks=NoCallbacks(),
        secret=SECRET,
        allowed=("https://dev.azure.com/contoso/",),
    )
    monkeypatch.setattr(check_trigger, "devops_check_deps", lambda container: deps)
    monkeypatch.setattr(check_trigger, "get_container", lambda: None)
    return deps


def _post(headers: dict[str, str], body: bytes) -> func.HttpResponse:
    request = func.HttpRequest(
        method="POST", url="http://localhost/api/devops/checks", headers=headers, body=body
    )
    response: func.HttpResponse = check_trigger.devops_check.build().get_user_function()(request)
    return response


def test_the_check_endpoint_reads_headers_in_any_case_and_answers_json(
    checks: CheckDeps,
) -> None:
    headers = {
        "X-Clearance-Check-Key": SECRET,
        "PlanUrl": "https://dev.azure.com/contoso/",
        "HubName": "build",
        "AuthToken": "tok",
        **{k.upper(): v for k, v in IDS.items()},
    }
    image = f"{checks.cell.registry.login_server}/models/m@sha256:{'ab' * 32}"

    response = _post(headers, json.dumps({"image": image}).encode())

    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_body())["status"] == "pending"
    assert response.headers["Cache-Control"] == "no-store"
    assert len(checks.checks.pending()) == 1


def test_the_check_endpoint_refuses_without_the_key(checks: CheckDeps) -> None:
    response = _post({"PlanUrl": "https://dev.azure.com/contoso/"}, b"{}")

    assert response.status_code == 401
    assert "key" in json.loads(response.get_body())["error"]


def test_the_expiry_timer_runs_one_sweep(
    cell: RegionEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(cell)
    world.run(s.image_request(cell, s.image_metadata("rolling", "1")))
    world.deliver(s.image_request(cell, s.image_metadata("canary", "2")))
    world.delivered = len(world.bus.sent)
    world.clock.advance(49 * 3600)
    deps = ExpiryDeps(
        cell=cell, state=world.store, lineage=world.lineage, bus=world.bus, clock=world.clock
    )
    monkeypatch.setattr(expiry_trigger, "expiry_deps", lambda container: deps)
    monkeypatch.setattr(expiry_trigger, "get_container", lambda: None)
    timer = azure.functions.timer.TimerRequest(past_due=False)

    expiry_trigger.deployment_expiry.build().get_user_function()(timer)

    assert RecordKind.DEPLOYMENT_EXPIRED in world.kinds()
