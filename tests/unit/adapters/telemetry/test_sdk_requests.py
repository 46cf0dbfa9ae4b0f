"""One light span per SDK request (storage through the shared transport, the registry through a
policy), only inside an invocation, with the failure on the span and never in the way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shared.adapters.telemetry import runtime
from shared.adapters.telemetry.instruments import Instruments
from shared.adapters.telemetry.sdk_requests import TracedTransport, resource_of
from shared.adapters.telemetry.spans import traced_trigger

TABLES = "http://127.0.0.1:10002/devstoreaccount1"


class Answer:
    def __init__(self, status: int) -> None:
        self.status_code = status


class Transport(HttpTransport):
    """Answers every request with ``status`` (or raises ``error``); records what it was sent."""

    def __init__(self, status: int = 200, error: Exception | None = None) -> None:
        self.status = status
        self.error = error
        self.sent: list[Any] = []
        self.entered = 0

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.sent.append(request)
        if self.error is not None:
            raise self.error
        return Answer(self.status)

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Transport:
        self.entered += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        self.entered -= 1


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider().get_meter("test")
    runtime.install(runtime.Telemetry(provider.get_tracer("t"), Instruments(meters), "test"))
    yield exporter
    runtime.install(None)


def invoke(call: Any) -> Any:
    @traced_trigger("acr_image_pushed")
    def trigger(timer: func.TimerRequest) -> Any:
        return call()

    return trigger(timer=None)


def test_each_request_of_an_invocation_is_one_client_child_span(
    spans: InMemorySpanExporter,
) -> None:
    inner = Transport(status=204)
    transport = TracedTransport(inner, "TableClient")
    request = HttpRequest("GET", f"{TABLES}/lineage(PartitionKey='a',RowKey='b')")

    answer = invoke(lambda: transport.send(request))

    assert answer.status_code == 204 and inner.sent == [request]
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert set(by_name) == {"TableClient GET", "acr_image_pushed"}
    leaf, parent = by_name["TableClient GET"], by_name["acr_image_pushed"]
    assert leaf.kind is SpanKind.CLIENT
    assert leaf.parent is not None and leaf.parent.span_id == parent.context.span_id
    assert leaf.context.trace_id == parent.context.trace_id
    assert leaf.attributes == {
        "http.request.method": "GET",
        "clearance.resource": "lineage",
        "http.response.status_code": 204,
    }
    assert leaf.status.status_code is StatusCode.UNSET


def test_expected_answers_are_not_errors_server_errors_and_throttling_are(
    spans: InMemorySpanExporter,
) -> None:
    for status in (404, 409, 412, 429, 503):
        transport = TracedTransport(Transport(status=status), "QueueClient")
        invoke(lambda t=transport: t.send(HttpRequest("PUT", f"{TABLES}/q/messages")))
    leaves = [s for s in spans.get_finished_spans() if s.name == "QueueClient PUT"]
    errors = {s.attributes["http.response.status_code"]: s.status.status_code for s in leaves}
    assert errors == {
        404: StatusCode.UNSET,
        409: StatusCode.UNSET,
        412: StatusCode.UNSET,
        429: StatusCode.ERROR,
        503: StatusCode.ERROR,
    }


def test_a_failed_send_raises_unchanged_and_ends_its_span_as_an_error(
    spans: InMemorySpanExporter,
) -> None:
    boom = ServiceRequestError("connection refused")
    transport = TracedTransport(Transport(error=boom), "BlobClient")

    with pytest.raises(ServiceRequestError) as caught:
        invoke(lambda: transport.send(HttpRequest("PUT", "https://a.blob.core.windows.net/c/b")))

    assert caught.value is boom
    (leaf,) = [s for s in spans.get_finished_spans() if s.name == "BlobClient PUT"]
    assert leaf.status.status_code is StatusCode.ERROR
    assert leaf.attributes["error.type"] == "ServiceRequestError"
    assert leaf.attributes["clearance.resource"] == "c"
    assert leaf.end_time is not None


def test_outside_an_invocation_or_without_telemetry_nothing_is_traced(
    spans: InMemorySpanExporter,
) -> None:
    inner = Transport()
    transport = TracedTransport(inner, "TableClient")
    transport.send(HttpRequest("GET", f"{TABLES}/Tables"))  # e.g. the CLI, a startup check
    assert spans.get_finished_spans() == ()
    runtime.install(None)
    invoke(lambda: transport.send(HttpRequest("GET", f"{TABLES}/Tables")))
    assert spans.get_finished_spans() == ()
    assert len(inner.sent) == 2


def test_the_wrapper_hands_the_transport_lifecycle_to_the_shared_transport() -> None:
    inner = Transport()
    with TracedTransport(inner, "TableClient") as outer:
        assert isinstance(outer, TracedTransport) and inner.entered == 1
    assert inner.entered == 0
    assert TracedTransport(inner, "TableClient").status == 200  # attributes pass through


@pytest.mark.parametrize(
    ("url", "resource"),
    [
        (f"{TABLES}/lineage(PartitionKey='x',RowKey='y')", "lineage"),
        ("https://acct.table.core.windows.net/approvals()?$filter=x", "approvals"),
        ("https://acct.queue.core.windows.net/approval-requests/messages", "approval-requests"),
        ("https://reg.azurecr.io/v2/models/fraud/manifests/sha256:ab", "models"),
        ("https://acct.table.core.windows.net/", None),
        (f"{TABLES}/", None),
        ("http://[::1", None),  # unparseable: no attribute, no error
        ("https://a.blob.core.windows.net/" + "x" * 5000, "x" * 128),
    ],
)
def test_the_resource_is_the_first_path_segment_bounded(url: str, resource: str | None) -> None:
    assert resource_of(url) == resource


def test_the_registry_client_gets_one_span_per_request(spans: InMemorySpanExporter) -> None:
    from azure.core.pipeline import Pipeline

    from shared.adapters.telemetry.sdk_requests import request_span_policy

    pipeline: Pipeline[Any, Any] = Pipeline(
        Transport(status=401), policies=[request_span_policy("ContainerRegistryClient")]
    )
    request = HttpRequest("HEAD", "https://reg.azurecr.io/v2/models/manifests/v1")
    answer = invoke(lambda: pipeline.run(request))
    assert answer.http_response.status_code == 401
    (leaf,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert leaf.name == "ContainerRegistryClient HEAD"
    assert leaf.attributes["clearance.resource"] == "models"
    assert leaf.attributes["http.response.status_code"] == 401


def test_in_azure_the_distro_leaves_sdk_requests_to_our_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """azure-core's tracing and the requests/urllib/urllib3 instrumentation would add three
    to four spans per SDK request next to ours: the distro is told to leave them off."""
    import azure.monitor.opentelemetry as distro
    from azure.monitor.opentelemetry._utils.configurations import (
        _get_configurations,
        _is_instrumentation_enabled,
    )

    seen: dict[str, Any] = {}
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kw: seen.update(kw))
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=0;IngestionEndpoint=x"}
    state = runtime._azure(env)

    assert state.mode == "azure"
    # as the distro reads them, its defaults (all on) merged in
    configured = _get_configurations(instrumentation_options=seen["instrumentation_options"])
    defaults = _get_configurations()
    for name in ("azure_sdk", "requests", "urllib", "urllib3"):
        assert _is_instrumentation_enabled(defaults, name)  # on unless we say so
        assert not _is_instrumentation_enabled(configured, name)
    assert "credential" not in seen  # no AAD: no managed identity asked for
