"""The promote and override endpoints, called with real HTTP request objects."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest

import functions.promotions as http
from shared.domain.approval.record import ApprovalState
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.lineage.record import RecordKind
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.approval.requests import cast_vote, open_request
from shared.services.deploy.rollouts import DeployOutcome
from tests.unit.services.test_stage_promotion import Cell

SATURDAY = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


@pytest.fixture
def c(cell: RegionEntry, monkeypatch: pytest.MonkeyPatch) -> Cell:
    cell_ = Cell(cell)

    class Container:
        def approvals(self) -> Any:
            return cell_.approvals

    monkeypatch.setattr(http, "get_container", Container)
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    return cell_


def call(
    fn: Any, route: dict[str, str], body: Any, who: str | None, ctype: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": ctype}
    if who is not None:
        p = {"auth_typ": "aad", "claims": [{"typ": "preferred_username", "val": who}]}
        headers["X-MS-CLIENT-PRINCIPAL"] = base64.b64encode(json.dumps(p).encode()).decode()
    req = func.HttpRequest(
        "POST", "http://localhost/api/x", headers=headers, route_params=route,
        body=body if isinstance(body, bytes) else json.dumps(body).encode(),
    )  # fmt: skip
    resp: func.HttpResponse = fn.build().get_user_function()(req)
    return resp.status_code, json.loads(resp.get_body())


def staged_and_baked(c: Cell) -> str:
    open_request(c.intake(), c.approvals)
    c.deploy_all()
    c.world.clock.now += timedelta(hours=2)
    live = c.world.store.state(c.world.cell.name, "fraud-detector@staging").live
    return str(live.identity)


def test_the_owner_promotes_through_the_api(c: Cell) -> None:
    digest = staged_and_baked(c)
    route = {"model": "fraud-detector"}
    body = {"digest": digest, "stage": "prod"}
    assert call(http.promote_model, route, body, None)[0] == 401
    assert call(http.promote_model, route, body, "owner@contoso.example", "text/plain")[0] == 415
    assert call(http.promote_model, route, b"[1,", "owner@contoso.example")[0] == 400
    assert call(http.promote_model, {"model": "Fraud!"}, body, "owner@contoso.example")[0] == 400
    bad = {"digest": "sha256:abc", "stage": "prod"}
    assert call(http.promote_model, route, bad, "owner@contoso.example")[0] == 400
    status, doc = call(http.promote_model, route, body, "approver.one@contoso.example")
    assert status == 409 and "only the owner" in doc["error"]
    status, doc = call(http.promote_model, route, body, "owner@contoso.example")
    assert status == 202 and doc["stage"] == "prod" and doc["state"] == "pending"
    assert any("Promotion from staging" in n for n in doc["notes"])
    promoted = [r for r in c.world.lineage.records if r.kind is RecordKind.APPROVAL_REQUESTED]
    assert promoted[-1].details["stage"] == "prod"


def test_an_override_needs_another_approver_and_a_reason(c: Cell) -> None:
    digest = staged_and_baked(c)
    c.world.clock.now = SATURDAY
    status, doc = call(
        http.promote_model, {"model": "fraud-detector"}, {"digest": digest, "stage": "prod"},
        "owner@contoso.example",
    )  # fmt: skip
    approval_id = doc["approval_id"]
    for who in ("approver.one@contoso.example", "approver.two@contoso.example"):
        cast_vote(approval_id, who, "approve", None, "easy_auth", c.approvals)
    assert c.store.get(approval_id)[0].state is ApprovalState.APPROVED
    c.world.delivered = len(c.world.bus.sent) - 1
    assert c.world.drain(limit=1) == [DeployOutcome.SCHEDULED]
    route = {"approval_id": approval_id}
    reason = {"reason": "fraud spike; the fix cannot wait"}
    for who, fragment in (
        ("approver.one@contoso.example", "another approver"),
        ("owner@contoso.example", "only an approver"),
        ("mallory@contoso.example", "only an approver"),
    ):
        status, doc = call(http.override_window, route, reason, who)
        assert status == 409 and fragment in doc["error"], who
    status, doc = call(
        http.override_window, route, {"reason": "  "}, "approver.three@contoso.example"
    )
    assert status == 409 and "reason" in doc["error"]
    assert call(http.override_window, {"approval_id": "x"}, reason, "a@contoso.example")[0] == 400
    status, doc = call(http.override_window, route, reason, "approver.three@contoso.example")
    assert status == 202 and doc["by"] == "approver.three@contoso.example"
    sent = DeploymentRequest.model_validate_json(c.world.bus.sent[-1][1].body)
    assert c.world.bus.sent[-1][0] == DEPLOYMENT_REQUESTS and sent.override is not None
    assert c.world.deliver(sent) == DeployOutcome.SUCCEEDED
    assert c.world.state().live is not None
    rec = next(r for r in c.world.lineage.records if r.details.get("override") == "emergency")
    assert rec.details["override_by"] == "approver.three@contoso.example"
