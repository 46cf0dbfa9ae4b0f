"""The directory over Microsoft Graph (``msgraph-sdk``), as the cell's managed identity.

Needs the application permission ``GroupMember.Read.All`` only: membership checks list the
group's transitive user members (``/groups/{id}/transitiveMembers/microsoft.graph.user``, paged
through ``@odata.nextLink``) rather than calling ``checkMemberGroups``, which would also need
``User.ReadBasic.All``. The SDK is asynchronous; each call runs on its own event loop with its
own HTTP client (Functions runs synchronous handlers on worker threads without a loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from shared.ports.directory import DirectoryError, DirectoryUser

log = logging.getLogger(__name__)
SCOPES = ["https://graph.microsoft.com/.default"]
PAGE_SIZE = 999
MAX_PAGES = 50  # 50k members: beyond that a group is not an approver group


class GraphDirectory:
    def __init__(self, credential: Any, *, http_client: Callable[[], Any] | None = None) -> None:
        """``http_client`` builds the ``httpx.AsyncClient`` for one call (tests pass one with a
        recorded transport); by default the SDK's client with Graph's middleware."""
        self._credential = credential
        self._http_client = http_client

    def _client(self) -> Any:
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient

        auth = AzureIdentityAuthenticationProvider(self._credential, scopes=SCOPES)
        client = self._http_client() if self._http_client else None
        return GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=client))

    async def _members(self, group_id: str) -> list[DirectoryUser]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (  # noqa: E501
            GraphUserRequestBuilder,
        )

        graph = self._client()
        builder = graph.groups.by_group_id(group_id).transitive_members.graph_user
        query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
            select=["id", "mail", "displayName"], top=PAGE_SIZE
        )
        page = await builder.get(request_configuration=RequestConfiguration(query_parameters=query))
        users: list[DirectoryUser] = []
        for _ in range(MAX_PAGES):
            if page is None:
                break
            users += [
                DirectoryUser(str(u.id).lower(), u.mail or None, u.display_name or "")
                for u in page.value or []
                if u.id
            ]
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get()
        else:
            log.warning(
                "group %s: more than %d pages of members; the rest ignored", group_id, MAX_PAGES
            )
        return users

    def list_group_members(self, group_id: str) -> list[DirectoryUser]:
        import httpx
        from kiota_abstractions.api_error import APIError

        try:
            return asyncio.run(self._members(group_id))
        except APIError as exc:
            raise DirectoryError(
                f"Graph: members of {group_id}: HTTP {exc.response_status_code}"
            ) from exc
        except (httpx.HTTPError, OSError) as exc:
            raise DirectoryError(f"Graph: members of {group_id}: {exc}") from exc

    def member_groups(self, object_id: str, group_ids: Sequence[str]) -> list[str]:
        oid = object_id.lower()
        return [g for g in group_ids if any(u.object_id == oid for u in self.list_group_members(g))]
