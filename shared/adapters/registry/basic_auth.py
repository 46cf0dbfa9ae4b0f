"""HTTP Basic credentials for a registry without a token service (the local docker-registry).

ACR is read with the managed identity; the local stand-in requires htpasswd users, so the
``azure-containerregistry`` client sends the user's credentials on every request instead. A
per-call policy sets the header before the client's challenge policy runs; that policy only acts
on a 401, which a correct password never gets.
"""

from __future__ import annotations

import base64
from typing import Any

from azure.core.pipeline.policies import SansIOHTTPPolicy


class BasicAuthPolicy(SansIOHTTPPolicy):
    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._header = f"Basic {token}"

    def on_request(self, request: Any) -> None:
        request.http_request.headers["Authorization"] = self._header
