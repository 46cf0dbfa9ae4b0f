"""One light span per SDK request, made by Clearance instead of azure-core's tracing stack.

azure-core's own tracing (``distributed_trace`` on every client method plus the
``DistributedTracingPolicy`` span per HTTP request, and in Azure the distro's ``requests`` /
``urllib3`` instrumentation under it) cost most of telemetry's CPU per event
(docs/benchmarks.md). It is switched off; instead each storage and registry request an
invocation makes is one CLIENT span named ``<Client> <METHOD>`` (``TableClient GET``), started
and ended directly (never made current: nothing nests in it), with the method, the resource
(table, queue or container name; the repository for the registry), the response status and,
on failure, the error type. The span is made after the answer, with its real start time and
all attributes at once (the cheapest way through the SDK). Outside an invocation, or with
telemetry off, the request goes straight through (one context-variable read).

Two carriers, both wrapping the same ``_traced_send``:

- ``TracedTransport`` around the cell's shared transport (``LeanTransport`` for tables and
  queues, ``RequestsTransport`` for blobs; one wrapper per client kind, so the span knows it is
  a table, queue or blob request; the pool stays shared);
- ``RequestSpanPolicy`` for clients with a transport of their own (the registry client).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from shared.adapters.telemetry.runtime import configured
from shared.adapters.telemetry.spans import in_invocation

MAX_RESOURCE = 128
LOCAL_ACCOUNT = "devstoreaccount1"  # Azurite's path-style account segment


def resource_of(url: str) -> str | None:
    """The first path segment naming the table, queue, container or registry repository
    (``lineage`` of ``/lineage(PartitionKey=...)``; Azurite's account segment skipped)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == LOCAL_ACCOUNT:
        parts = parts[1:]
    if parts and parts[0] in {"v2", "acr", "oauth2"} and len(parts) > 1:
        parts = parts[1:]  # registry: /v2/<repository>/manifests/...
    if not parts:
        return None
    return parts[0].split("(", 1)[0][:MAX_RESOURCE] or None


def _traced_send(client: str, request: Any, send: Callable[[], Any]) -> Any:
    state = configured()
    if state is None or not in_invocation():
        return send()
    # the span is made once the answer is in, with every attribute at once and its real start
    # time: no attribute updates under the span's lock, no context switch to make it current
    method = getattr(request, "method", None) or "?"
    attributes: dict[str, Any] = {"http.request.method": method}
    resource = resource_of(str(getattr(request, "url", "")))
    if resource is not None:
        attributes["clearance.resource"] = resource
    started = time.time_ns()
    try:
        response = send()
    except BaseException as exc:
        attributes["error.type"] = type(exc).__name__
        _emit(state, f"{client} {method}", started, attributes, error=True)
        raise
    status = _status_of(response)
    error = False
    if status is not None:
        attributes["http.response.status_code"] = status
        # 404/409/412 are answers the adapters expect (missing row, lost race), not failures
        if status >= 500 or status == 429:
            attributes["error.type"] = str(status)
            error = True
    _emit(state, f"{client} {method}", started, attributes, error=error)
    return response


def _emit(state: Any, name: str, started: int, attributes: dict[str, Any], *, error: bool) -> None:
    from opentelemetry.trace import SpanKind

    span = state.tracer.start_span(
        name, kind=SpanKind.CLIENT, attributes=attributes, start_time=started
    )
    if error:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR))
    span.end()


def _status_of(response: Any) -> int | None:
    http = getattr(response, "http_response", response)  # a PipelineResponse or a response
    code = getattr(http, "status_code", None)
    return code if isinstance(code, int) else None


class TracedTransport:
    """An azure-core ``HttpTransport`` that spans each request and sends it with ``inner``."""

    def __init__(self, inner: Any, client: str) -> None:
        self._inner = inner
        self._client = client

    def send(self, request: Any, **kwargs: Any) -> Any:
        return _traced_send(self._client, request, lambda: self._inner.send(request, **kwargs))

    def open(self) -> None:
        self._inner.open()

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> TracedTransport:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def request_span_policy(client: str) -> Any:
    """An azure-core ``HTTPPolicy`` doing the same for a client built with its own transport."""
    from azure.core.pipeline.policies import HTTPPolicy

    class RequestSpanPolicy(HTTPPolicy):
        def send(self, request: Any) -> Any:
            return _traced_send(client, request.http_request, lambda: self.next.send(request))

    return RequestSpanPolicy()
