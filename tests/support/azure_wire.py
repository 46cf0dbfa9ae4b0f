"""An azure-core ``HttpTransport`` that plays recorded response shapes: the SDK client above it
(pipeline, retry policy, pollers, paging, error mapping) runs exactly as it does against Azure.

``WireTransport`` answers each request with the next scripted response of the first route
whose method and path match, records every request it saw, and answers an unscripted request
with a 599 so a test can see it (``unexpected``). It also checks that it is never entered by
two threads at once (``overlaps``), which the Service Bus and mail tests rely on.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import CaseInsensitiveDict


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds the "service" takes to answer

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain")
        if self.body is None:
            return b"", self.headers.get("Content-Type", "application/json")
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return "/" + self.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Route:
    method: str
    path: str  # a regular expression searched in the URL path
    replies: list[Reply]
    repeat_last: bool = True

    def next(self) -> Reply:
        if len(self.replies) > 1 or not self.repeat_last:
            return self.replies.pop(0)
        return self.replies[0]


def error(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers)


class WireTransport(HttpTransport):  # type: ignore[misc]
    def __init__(self, *routes: Route) -> None:
        self.routes = list(routes)
        self.seen: list[Seen] = []
        self.unexpected: list[Seen] = []
        self.overlaps = 0
        self._busy = 0
        self._lock = threading.Lock()

    def add(self, method: str, path: str, *replies: Reply, repeat_last: bool = True) -> None:
        self.routes.insert(0, Route(method, path, list(replies), repeat_last))

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and re.search(path, s.path)]

    # -- HttpTransport ------------------------------------------------------------------------
    def __enter__(self) -> WireTransport:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: Any, **kwargs: Any) -> HttpResponseImpl:
        with self._lock:
            self._busy += 1
            if self._busy > 1:
                self.overlaps += 1
        try:
            body = request.content if hasattr(request, "content") else request.body
            if isinstance(body, str):
                body = body.encode()
            seen = Seen(request.method, request.url, dict(request.headers), bytes(body or b""))
            with self._lock:
                self.seen.append(seen)
                reply = self._match(seen)
            if reply is None:
                self.unexpected.append(seen)
                reply = error(599, "Unscripted", f"{seen.method} {seen.path}")
            if reply.delay:
                time.sleep(reply.delay)
            return _response(request, reply)
        finally:
            with self._lock:
                self._busy -= 1

    def _match(self, seen: Seen) -> Reply | None:
        for route in self.routes:
            if route.method == seen.method and re.search(route.path, seen.path):
                if not route.replies:
                    continue
                return route.next()
        return None


def _response(request: Any, reply: Reply) -> HttpResponseImpl:
    content, content_type = reply.encoded()
    headers = CaseInsensitiveDict({"Content-Type": content_type, **reply.headers})
    response = HttpResponseImpl(
        request=request,
        internal_response=_Raw(),
        status_code=reply.status,
        reason="Scripted",
        content_type=content_type,
        headers=headers,
        stream_download_generator=_no_stream,
    )
    response._content = content
    return response


class _Raw:
    def close(self) -> None:
        return None


def _no_stream(*args: Any, **kwargs: Any) -> Iterator[bytes]:
    raise AssertionError("the wire fake serves whole bodies only")


class StaticCredential:
    """A ``TokenCredential`` whose token never expires; ``refuse`` makes every call fail."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.refuse = refuse

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.refuse is not None:
            raise self.refuse
        return AccessToken("wire-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, **kwargs: Any) -> AccessTokenInfo:
        if self.refuse is not None:
            raise self.refuse
        return AccessTokenInfo("wire-token", int(time.time()) + 3600)
