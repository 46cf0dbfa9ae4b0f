"""The two triggers, called with real binding objects: Service Bus message and HTTP request."""

from __future__ import annotations

import base64
import json
from typing import Any

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage

import functions.deployment_requests as sb_trigger
import functions.rollback as http_trigger
from shared.domain.catalog import RegionEntry
from shared.domain.errors import TransientError
from shared.domain.lineage.record import RecordKind
from shared.queues import DEPLOYMENT_REQUESTS
from tests.support import deploy_samples as s
from tests.support.deploy_world import World

NS = "model-fraud-detector"


@pytest.fixture
def world(cell: RegionEntry, monkeypatch: pytest.MonkeyPatch) -> World:
    w = World(cell)
    monkeypatch.setattr(sb_trigger, "deployment_deps", lambda container: w.deps)
    monkeypatch.setattr(sb_trigger, "get_container", lambda: None)
    monkeypatch.setattr(http_trigger, "rollback_deps", lambda container: w.rollback_deps)
    monkeypatch.setattr(http_trigger, "get_container", lambda: None)
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")  # App Service Authentication is on
    return w


def sb(body: bytes, message_id: str = "m-1", delivery_count: int = 1) -> ServiceBusMessage:
    return ServiceBusMessage(
        body=body,
        message_id=message_id,
        delivery_count=delivery_count,
        application_properties={},
        user_properties={},
    )


def deliver(msg: ServiceBusMessage) -> None:
    sb_trigger.deployment_requests.build().get_user_function()(msg)


def post(model: str, body: Any, principal: dict[str, Any] | None,
         content_type: str = "application/json") -> func.HttpResponse:  # fmt: skip
    headers = {"Content-Type": content_type}
    if principal is not None:
        headers["X-MS-CLIENT-PRINCIPAL"] = base64.b64encode(json.dumps(principal).encode()).decode()
    request = func.HttpRequest(
        "POST",
        f"http://localhost/api/models/{model}/rollback",
        headers=headers,
        route_params={"model": model},
        body=json.dumps(body).encode(),
    )
    response: func.HttpResponse = http_trigger.rollback.build().get_user_function()(request)
    return response


def principal(email: str) -> dict[str, Any]:
    return {"auth_typ": "aad", "claims": [{"typ": "preferred_username", "val": email}]}


def test_a_deployment_message_is_deployed(world: World) -> None:
    request = s.image_request(world.cell)
    deliver(sb(request.model_dump_json().encode()))
    assert world.cluster.image(NS, "fraud-detector") == (
        f"{world.cell.registry.login_server}/models/fraud-detector@{request.artifact.digest}"
    )


def test_an_unreadable_message_is_recorded_and_completed(world: World) -> None:
    deliver(sb(b'{"approval_id": 42}', message_id="junk-1"))
    (record,) = world.lineage.records
    assert record.kind is RecordKind.DEPLOYMENT_FAILED
    assert record.correlation.event_id == "junk-1"
    assert world.cluster.applied == []


def test_a_transient_failure_raises_for_the_platform_to_retry(world: World) -> None:
    world.cluster.unreachable = True
    with pytest.raises(TransientError):
        deliver(sb(s.image_request(world.cell).model_dump_json().encode()))


def _two_versions(world: World) -> None:
    for version in ("1", "2"):
        world.run(s.image_request(world.cell, s.image_metadata("rolling", version)))


def test_an_approver_rolls_back_over_http(world: World) -> None:
    _two_versions(world)
    response = post(
        "fraud-detector", {"reason": "5xx up"}, principal("Approver.One@contoso.example")
    )
    assert response.status_code == 202
    ticket = json.loads(response.get_body())
    assert ticket["restores"].startswith("1 (sha256:")
    queue, message = world.bus.sent[-1]
    assert queue == DEPLOYMENT_REQUESTS and message.message_id == ticket["deployment_id"]
    world.drain()
    live = world.state().live
    assert live is not None and live.metadata.version == "1"


@pytest.mark.parametrize(
    ("model", "body", "who", "content_type", "status"),
    [
        ("fraud-detector", {}, None, "application/json", 401),
        ("fraud-detector", {}, "owner@contoso.example", "application/json", 404),
        ("fraud-detector", {}, "approver.one@contoso.example", "text/plain", 415),
        ("Fraud_Detector", {}, "approver.one@contoso.example", "application/json", 400),
        ("unknown-model", {}, "approver.one@contoso.example", "application/json", 404),
        ("fraud-detector", {"reason": 5}, "approver.one@contoso.example", "application/json", 400),
    ],
)
def test_rollback_refusals(
    world: World, model: str, body: Any, who: str | None, content_type: str, status: int
) -> None:
    _two_versions(world)
    sent = len(world.bus.sent)
    response = post(model, body, principal(who) if who else None, content_type)
    assert response.status_code == status
    assert len(world.bus.sent) == sent


def test_a_non_approver_cannot_tell_a_live_model_from_an_unknown_one(world: World) -> None:
    _two_versions(world)
    stranger = principal("owner@contoso.example")

    live = post("fraud-detector", {}, stranger)
    unknown = post("no-such-model", {}, stranger)

    assert live.status_code == unknown.status_code == 404
    body_live = json.loads(live.get_body())["error"].replace("fraud-detector", "M")
    assert body_live == json.loads(unknown.get_body())["error"].replace("no-such-model", "M")


def test_a_forged_principal_without_easy_auth_is_not_signed_in(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_versions(world)
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED")

    assert post("fraud-detector", {}, principal("approver.one@contoso.example")).status_code == 401


def test_an_approver_variant_of_the_address_is_the_approver(world: World) -> None:
    _two_versions(world)

    assert (
        post("fraud-detector", {}, principal(" APPROVER.ONE+ops@contoso.example")).status_code
        == 202
    )
