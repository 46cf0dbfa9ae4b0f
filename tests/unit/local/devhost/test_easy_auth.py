"""The local Easy Auth: a client can never bring its own principal; sign-in yields the
directory's object id and tenant."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shared.local.devhost.easy_auth import LocalEasyAuth
from shared.local.stack import LOCAL_TENANT, SAMPLE_PEOPLE, LocalStack, StackPorts

REPO = Path(__file__).resolve().parents[4]
ONE = "approver.one@contoso.example"


@pytest.fixture
def auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalEasyAuth:
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    stack = LocalStack(tmp_path, REPO, ports=StackPorts())
    stack.directory_file.write_text(json.dumps(stack.directory()))
    return LocalEasyAuth(stack.directory_file)


def _claims(headers: dict[str, str]) -> dict[str, str]:
    doc = json.loads(base64.b64decode(headers["X-MS-CLIENT-PRINCIPAL"]))
    return {c["typ"].rsplit("/", 1)[-1]: c["val"] for c in doc["claims"]}


def test_a_client_sent_principal_is_dropped(auth: LocalEasyAuth) -> None:
    forged = {"X-MS-CLIENT-PRINCIPAL": "eyJ9", "x-ms-client-principal-id": "x", "Accept": "*/*"}

    assert auth.principal_for(forged) == {"Accept": "*/*"}


def test_sign_in_sets_a_session_that_carries_the_directorys_ids(auth: LocalEasyAuth) -> None:
    status, headers, _ = auth.login(f"as={ONE.upper()}&post_login_redirect_uri=/api/x")
    cookie = dict(headers)["Set-Cookie"].split(";", 1)[0]

    injected = auth.principal_for({"Cookie": cookie, "X-MS-CLIENT-PRINCIPAL": "forged"})

    assert status == 302
    assert dict(headers)["Location"] == "/api/x"
    claims = _claims(injected)
    assert claims["objectidentifier"] == SAMPLE_PEOPLE[ONE]
    assert claims["tenantid"] == LOCAL_TENANT


def test_unknown_people_forged_sessions_and_open_redirects_go_nowhere(auth: LocalEasyAuth) -> None:
    assert auth.login("as=nobody@contoso.example")[0] == 403
    _, headers, _ = auth.login(f"as={ONE}&post_login_redirect_uri=//evil.example/")
    assert dict(headers)["Location"] == "/"
    assert "X-MS-CLIENT-PRINCIPAL" not in auth.principal_for(
        {"Cookie": "AppServiceAuthSession=guess"}
    )
    assert "X-MS-CLIENT-PRINCIPAL" not in auth.principal_for({"Cookie": '"; bad=\\"'})
