"""An azure-core transport that serves recorded responses: the SDK's real pipeline, policies
and deserialisation run; only the network is replaced."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import RestHttpClientTransportResponse


class _Raw:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.reason, self._body = status, "recorded", body

    def getheaders(self) -> list[tuple[str, str]]:
        return [("Content-Type", "application/json"), ("Content-Length", str(len(self._body)))]

    def read(self) -> bytes:
        return self._body


Answer = tuple[int, Any] | Exception


@dataclass
class RecordedTransport(HttpTransport):
    """Answers each request with ``answer(request)``: (status, JSON document) or an error."""

    answer: Callable[[Any], Answer]
    requests: list[Any] = field(default_factory=list)

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.requests.append(request)
        got = self.answer(request)
        if isinstance(got, Exception):
            raise got
        status, doc = got
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        raw = _Raw(status, body)
        return RestHttpClientTransportResponse(request=request, internal_response=raw)

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> RecordedTransport:
        return self

    def __exit__(self, *args: object) -> None:
        pass


class StaticCredential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("recorded-token", 4_102_444_800)


def unreachable(request: Any) -> Answer:
    return ServiceRequestError("connection refused")
