"""The analysis page's trigger refuses strangers and odd requests before any storage is read."""

from __future__ import annotations

import base64
import json

import azure.functions as func
import pytest

from functions import analysis_decision


@pytest.fixture(autouse=True)
def easy_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")


def call(method: str, model: str, headers: dict[str, str], body: bytes = b"") -> int:
    handler = analysis_decision.analysis_decision.build().get_user_function()
    request = func.HttpRequest(
        method=method,
        url=f"http://127.0.0.1/api/models/{model}/analysis",
        route_params={"model": model},
        headers=headers,
        body=body,
    )
    return int(handler(request).status_code)


def principal(email: str) -> str:
    claims = {"claims": [{"typ": "preferred_username", "val": email}]}
    return base64.b64encode(json.dumps(claims).encode()).decode()


def test_strangers_bad_names_and_json_bodies_are_refused() -> None:
    assert call("GET", "fraud-detector", {}) == 401
    assert call("GET", "fraud-detector", {"X-MS-CLIENT-PRINCIPAL": "not base64!"}) == 401
    who = {"X-MS-CLIENT-PRINCIPAL": principal("approver.one@contoso.example")}
    assert call("GET", "../etc", who) == 400
    json_body = {**who, "Content-Type": "application/json"}
    assert call("POST", "fraud-detector", json_body, b'{"action": "continue"}') == 415
    form = {**who, "Content-Type": "application/x-www-form-urlencoded"}
    assert call("POST", "fraud-detector", form, b"a=" + b"x" * 9000) == 415


def test_a_forged_principal_without_easy_auth_is_not_signed_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With App Service Authentication off, X-MS-CLIENT-PRINCIPAL is whatever a client wrote."""
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED")
    who = {"X-MS-CLIENT-PRINCIPAL": principal("approver.one@contoso.example")}
    assert call("GET", "fraud-detector", who) == 401


def test_a_form_with_too_many_fields_is_a_400_not_a_traceback() -> None:
    # parse_qs(max_num_fields=...) raises ValueError past the limit; unanswered it is a 500.
    who = {
        "X-MS-CLIENT-PRINCIPAL": principal("approver.one@contoso.example"),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = "&".join(f"f{i}=1" for i in range(11)).encode()
    assert call("POST", "fraud-detector", who, body) == 400
