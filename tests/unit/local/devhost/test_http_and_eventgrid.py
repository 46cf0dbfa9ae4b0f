"""The local host's HTTP triggers and its Event Grid webhook contract, over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from shared.local.devhost.server import DevHost
from tests.apps import probe_app

WEBHOOK = "/runtime/webhooks/eventgrid"


@pytest.fixture(scope="module")
def host() -> Iterator[DevHost]:
    h = DevHost(probe_app.app, port=0, host_json={}).start()
    yield h
    h.stop()


@pytest.fixture(autouse=True)
def _clean() -> None:
    probe_app.reset()


def call(
    host: DevHost, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    req = urllib.request.Request(
        host.base_url + path, data=data, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def eg_event(event_id: str = "e1") -> dict[str, Any]:
    return {
        "id": event_id,
        "topic": "/subscriptions/x/resourceGroups/y/providers/"
        "Microsoft.ContainerRegistry/registries/z",
        "subject": "repo:tag",
        "eventType": "Microsoft.ContainerRegistry.ImagePushed",
        "eventTime": "2026-11-21T10:00:00Z",
        "dataVersion": "1.0",
        "data": {"target": {"repository": "repo"}},
    }


# -- HTTP triggers ------------------------------------------------------------------------
def test_route_params_query_and_method(host: DevHost) -> None:
    status, _, body = call(host, "GET", "/api/items/42?q=hello")
    assert status == 200
    assert json.loads(body) == {"item_id": "42", "q": "hello", "method": "GET"}


def test_route_constraint_and_method_mismatch_are_404(host: DevHost) -> None:
    assert call(host, "GET", "/api/items/abc")[0] == 404
    assert call(host, "DELETE", "/api/items/42")[0] == 404
    assert call(host, "GET", "/api/nowhere")[0] == 404


def test_post_body_reaches_the_function(host: DevHost) -> None:
    status, headers, body = call(host, "POST", "/api/items", {"name": "x"})
    assert status == 201
    assert json.loads(body) == {"name": "x"}
    assert headers["Content-Type"].startswith("application/json")


def test_unhandled_exception_is_a_500(host: DevHost) -> None:
    assert call(host, "GET", "/api/crash")[0] == 500


def test_host_status_lists_functions(host: DevHost) -> None:
    status, _, body = call(host, "GET", "/admin/host/status")
    names = {f["name"]: f["trigger"] for f in json.loads(body)["functions"]}
    assert status == 200
    assert names["work"] == "serviceBusTrigger"
    assert names["tick"] == "timerTrigger"


# -- Event Grid contract ------------------------------------------------------------------
def test_subscription_validation_handshake(host: DevHost) -> None:
    validation = [
        {
            "id": "v",
            "topic": "t",
            "subject": "",
            "eventTime": "2026-11-21T10:00:00Z",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "dataVersion": "2",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        }
    ]
    status, _, body = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        validation,
        {"aeg-event-type": "SubscriptionValidation", "Content-Type": "application/json"},
    )
    assert status == 200
    assert json.loads(body) == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    assert probe_app.RECORD["events"] == []


def test_notification_delivers_every_event_and_answers_202(host: DevHost) -> None:
    status, _, _ = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        [eg_event("a"), eg_event("b")],
        {"aeg-event-type": "Notification"},
    )
    assert status == 202
    events = probe_app.RECORD["events"]
    assert [e.id for e in events] == ["a", "b"]
    assert events[0].event_type == "Microsoft.ContainerRegistry.ImagePushed"
    assert events[0].get_json() == {"target": {"repository": "repo"}}


def test_cloudevents_batch_is_delivered_as_cloudevents(host: DevHost) -> None:
    ce = {
        "specversion": "1.0",
        "id": "ce1",
        "source": "/registries/z",
        "subject": "repo:tag",
        "type": "Microsoft.ContainerRegistry.ImagePushed",
        "time": "2026-11-21T10:00:00Z",
        "data": {"target": {"repository": "repo"}},
    }
    status, _, _ = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        [ce],
        {"aeg-event-type": "Notification", "Content-Type": "application/cloudevents-batch+json"},
    )
    assert status == 202
    (event,) = probe_app.RECORD["events"]
    assert event.id == "ce1"
    assert event.type == "Microsoft.ContainerRegistry.ImagePushed"


def test_cloudevents_abuse_protection_handshake(host: DevHost) -> None:
    status, headers, _ = call(
        host,
        "OPTIONS",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        None,
        {"WebHook-Request-Origin": "eventgrid.azure.net"},
    )
    assert status == 200
    assert headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_unknown_function_is_404(host: DevHost) -> None:
    status, _, _ = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=nope",
        [eg_event()],
        {"aeg-event-type": "Notification"},
    )
    assert status == 404
    # an HTTP function is not an Event Grid function either
    assert (
        call(
            host,
            "POST",
            f"{WEBHOOK}?functionName=get_item",
            [eg_event()],
            {"aeg-event-type": "Notification"},
        )[0]
        == 404
    )


def test_missing_event_type_header_is_400(host: DevHost) -> None:
    status, _, _ = call(host, "POST", f"{WEBHOOK}?functionName=acr_image_pushed", [eg_event()])
    assert status == 400
    assert probe_app.RECORD["events"] == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"[]"])
def test_malformed_batches_are_400(host: DevHost, body: bytes) -> None:
    status, _, _ = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        body,
        {"aeg-event-type": "Notification"},
    )
    assert status == 400


def test_oversized_batch_is_413(host: DevHost) -> None:
    big = [dict(eg_event(str(i)), data={"pad": "x" * 4096}) for i in range(300)]
    status, _, _ = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        big,
        {"aeg-event-type": "Notification"},
    )
    assert status == 413
    assert probe_app.RECORD["events"] == []


def test_handler_failure_is_500_so_event_grid_retries(host: DevHost) -> None:
    status, _, body = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=always_fails",
        [eg_event()],
        {"aeg-event-type": "Notification"},
    )
    assert status == 500
    assert b"always_fails" in body


# -- timers -------------------------------------------------------------------------------
def test_timer_fires_on_its_schedule(host: DevHost) -> None:
    from tests.conftest import wait_for

    wait_for(lambda: len(probe_app.RECORD["ticks"]) >= 2, timeout=5)
    first, second = probe_app.RECORD["ticks"][:2]
    assert 0.5 < second - first < 1.5  # "* * * * * *": once a second


@pytest.mark.parametrize("where", ["top", "data"])
def test_a_body_nested_a_thousand_levels_is_answered_400(host: DevHost, where: str) -> None:
    deep = "[" * 1200 + "]" * 1200
    if where == "top":
        body = deep.encode()
    else:
        event = eg_event()
        event["data"] = "DEEP"
        body = json.dumps([event]).replace('"DEEP"', deep).encode()
    status, _, text = call(
        host,
        "POST",
        f"{WEBHOOK}?functionName=acr_image_pushed",
        body,
        {"aeg-event-type": "Notification", "Content-Type": "application/json"},
    )
    assert status == 400  # an answer, not a dropped connection; Event Grid does not retry 400
    assert b"nested more than 64 levels" in text
    assert probe_app.RECORD["events"] == []
