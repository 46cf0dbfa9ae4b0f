"""Posts to a Teams Workflows webhook (the local stack's receiver stands in for Teams)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from shared.adapters.telemetry.spans import traced_call
from shared.domain.errors import TransientError


class TeamsWebhook:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("the Teams webhook must be https (or the local receiver)")
        self._url, self._timeout = url, timeout

    @traced_call("teams.post")
    def post(self, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self._url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                if response.status >= 300:
                    raise TransientError(f"Teams webhook answered {response.status}")
        except (urllib.error.URLError, OSError) as exc:
            raise TransientError(f"Teams webhook failed: {exc}") from exc
