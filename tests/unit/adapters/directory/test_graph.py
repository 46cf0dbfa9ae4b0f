"""The Graph directory on the wire: recorded response shapes, paging, errors, and what it asks."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken

from shared.adapters.directory.graph import GraphDirectory
from shared.ports.directory import DirectoryError

GROUP = "0a0a0a0a-1111-2222-3333-444444444444"
NEXT = (
    f"https://graph.microsoft.com/v1.0/groups/{GROUP}/transitiveMembers/microsoft.graph.user"
    "?$select=id,mail,displayName&$top=999&$skiptoken=RFNwdAIAAQAAAB"
)


def _user(n: int, mail: str | None) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": f"{n:08d}-0000-0000-0000-00000000000{n}",
        "displayName": f"Approver {n}",
        "mail": mail,
    }


PAGE_1 = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,mail,displayName)",
    "@odata.nextLink": NEXT,
    "value": [_user(1, "Approver.One@contoso.example"), _user(2, None)],
}
PAGE_2 = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,mail,displayName)",
    "value": [_user(3, "approver.three@contoso.example")],
}


class _Credential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("graph-token", int(time.time()) + 3600)


class _Graph:
    """Serves Graph's recorded shapes and keeps what it was asked."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            body = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient"}}
            return httpx.Response(self.status, json=body)
        page = PAGE_2 if "skiptoken" in str(request.url) else PAGE_1
        return httpx.Response(
            200, content=json.dumps(page), headers={"content-type": "application/json"}
        )


def _directory(graph: _Graph, credential: _Credential | None = None) -> GraphDirectory:
    return GraphDirectory(
        credential or _Credential(),
        http_client=lambda: httpx.AsyncClient(transport=httpx.MockTransport(graph)),
    )


def test_members_are_read_transitively_across_pages_with_only_what_is_needed() -> None:
    graph, credential = _Graph(), _Credential()

    members = _directory(graph, credential).list_group_members(GROUP)

    assert [(m.object_id, m.mail) for m in members] == [
        ("00000001-0000-0000-0000-000000000001", "Approver.One@contoso.example"),
        ("00000002-0000-0000-0000-000000000002", None),
        ("00000003-0000-0000-0000-000000000003", "approver.three@contoso.example"),
    ]
    first, second = graph.requests
    assert first.url.path == f"/v1.0/groups/{GROUP}/transitiveMembers/graph.user"
    assert "select=id,mail,displayName" in str(first.url).replace("%2C", ",")
    assert "skiptoken" in str(second.url)
    assert first.headers["authorization"] == "Bearer graph-token"
    assert credential.scopes[0] == ("https://graph.microsoft.com/.default",)


def test_membership_is_decided_from_the_transitive_members() -> None:
    directory = _directory(_Graph())

    assert directory.member_groups("00000003-0000-0000-0000-000000000003", [GROUP]) == [GROUP]
    assert directory.member_groups("99999999-0000-0000-0000-000000000009", [GROUP]) == []


@pytest.mark.parametrize("status", [403, 429, 503])
def test_a_graph_error_is_a_directory_error_not_a_traceback(status: int) -> None:
    with pytest.raises(DirectoryError, match=str(status)):
        _directory(_Graph(status)).list_group_members(GROUP)
