"""The review trigger trusts the Easy Auth header only when App Service Authentication is on."""

from __future__ import annotations

import azure.functions as func
import pytest

from functions import approval_review


def _request(header: str | None) -> func.HttpRequest:
    headers = {"X-MS-CLIENT-PRINCIPAL": header} if header else {}
    return func.HttpRequest("GET", "https://x/api/approvals/a/review", headers=headers, body=b"")


def test_without_easy_auth_a_client_sent_principal_is_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)

    assert approval_review._principal(_request("eyJjbGFpbXMiOltdfQ==")) is None


def test_with_easy_auth_the_platforms_principal_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")

    assert approval_review._principal(_request("eyJjbGFpbXMiOltdfQ==")) == "eyJjbGFpbXMiOltdfQ=="
