"""Trace context read defensively, spans per invocation with the lineage's correlation, and
metric labels from closed sets only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.adapters.telemetry import runtime
from shared.adapters.telemetry.context import parse_traceparent
from shared.adapters.telemetry.instruments import Instruments
from shared.adapters.telemetry.spans import TracedLineage, traced_trigger, with_trace_context
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    Reason,
    RecordKind,
)

GOOD = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Memory:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[self.reader]).get_meter("test")
        runtime.install(runtime.Telemetry(provider.get_tracer("t"), Instruments(meters), "test"))

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out += [(dict(p.attributes), p) for p in metric.data.data_points]
        return out


@pytest.fixture
def memory() -> Iterator[Memory]:
    yield Memory()
    runtime.install(None)


class Lineage:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        if idempotency_key in self.keys:
            return False
        self.keys.add(idempotency_key or "")
        return True

    def append_all(
        self, entries: list[tuple[LineageRecord, str | None]], *, new_chain: bool = False
    ) -> list[bool]:
        return [self.append(record, idempotency_key=key) for record, key in entries]


def record(kind: RecordKind, **kw: Any) -> LineageRecord:
    return LineageRecord(
        kind=kind,
        at=kw.pop("at", datetime.now(UTC)),
        region="westeurope",
        actor=Actor(identity="event-grid", established_by="event_grid"),
        artifact=ArtifactRef(
            kind="image", registry="r.example", repository="models/x", digest="sha256:" + "a" * 64
        ),
        correlation=Correlation(event_id="ev-1", approval_id="ap-1", deployment_id="dep-1"),
        **kw,
    )


def bus_message(props: dict[str, Any]) -> func.ServiceBusMessage:
    from azure.functions.servicebus import ServiceBusMessage

    return ServiceBusMessage(
        body=b"{}", message_id="m-1", application_properties=props, user_properties=props
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        {"a": 1},
        "",
        "x" * 100_000,
        GOOD.upper(),
        "ff" + GOOD[2:],
        GOOD[:-1],
        GOOD + "-more",  # version 00 may not carry more fields
        "00-" + "0" * 32 + "-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033\u0661\u0662-01",
        "01" + GOOD[2:] + "x",  # a later version must continue with "-"
    ],
)
def test_malformed_traceparents_are_ignored(value: object) -> None:
    assert parse_traceparent(value) is None


def test_well_formed_traceparents_parse_and_later_versions_read_as_00() -> None:
    parent = parse_traceparent(GOOD)
    assert parent is not None and parent.header() == GOOD
    later = parse_traceparent("cc" + GOOD[2:] + "-what-comes-later")
    assert later is not None and later.trace_id == parent.trace_id


@given(st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.hex()))
def test_no_text_makes_the_parser_raise(value: str) -> None:
    parse_traceparent(value)


@pytest.mark.parametrize(
    "props",
    [{"traceparent": "x" * 10_000}, {"traceparent": b"\xff" * 60}, {"Diagnostic-Id": 7}, {}],
)
def test_a_hostile_trace_context_starts_a_trace_of_its_own(
    memory: Memory, props: dict[str, Any]
) -> None:
    calls = []

    @traced_trigger("approval_requests")
    def fn(msg: func.ServiceBusMessage) -> str:
        calls.append(msg)
        return "done"

    assert fn(msg=bus_message(props)) == "done"
    (span,) = memory.spans.get_finished_spans()
    assert calls and span.parent is None and span.name == "approval_requests"


def test_a_message_continues_the_trace_it_was_sent_in(memory: Memory) -> None:
    @traced_trigger("deployment_requests")
    def consumer(msg: func.ServiceBusMessage) -> None:
        return None

    @traced_trigger("approval_review_decide")
    def producer(req: func.HttpRequest) -> dict[str, Any]:
        return with_trace_context({"other": "kept"})

    props = producer(req=func.HttpRequest("POST", "http://h/api/x", body=b""))
    assert props["other"] == "kept" and parse_traceparent(props["traceparent"])
    consumer(msg=bus_message(props))
    first, second = memory.spans.get_finished_spans()
    assert second.context.trace_id == first.context.trace_id
    assert second.parent is not None and second.parent.span_id == first.context.span_id


def test_a_stored_trace_is_continued_and_the_callers_is_linked(memory: Memory) -> None:
    @traced_trigger("approval_review_decide", parent=lambda req: GOOD)
    def review(req: func.HttpRequest) -> None:
        return None

    other = "00-11111111111111111111111111111111-2222222222222222-01"
    review(req=func.HttpRequest("POST", "http://h/", headers={"traceparent": other}, body=b""))
    (span,) = memory.spans.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == GOOD.split("-")[1]
    assert [f"{link.context.trace_id:032x}" for link in span.links] == ["1" * 32]


def test_a_failing_stored_trace_lookup_does_not_fail_the_request(memory: Memory) -> None:
    def broken(req: Any) -> str:
        raise RuntimeError("table down")

    @traced_trigger("approval_review_show", parent=broken)
    def review(req: func.HttpRequest) -> int:
        return 200

    assert review(req=func.HttpRequest("GET", "http://h/", body=b"")) == 200


def test_lineage_records_put_their_ids_on_the_span_and_count_once(memory: Memory) -> None:
    lineage = TracedLineage(Lineage())
    pushed = datetime.now(UTC) - timedelta(seconds=3)

    @traced_trigger("acr_image_pushed")
    def intake(event: func.EventGridEvent) -> None:
        rec = record(RecordKind.APPROVAL_REQUESTED)
        assert lineage.append(rec, idempotency_key="k")
        assert not lineage.append(rec, idempotency_key="k")  # a redelivery counts nothing

    event = func.EventGridEvent(
        id="ev-1",
        data={},
        topic="t",
        subject="s",
        event_type="Microsoft.ContainerRegistry.ImagePushed",
        event_time=pushed,
        data_version="1",
    )
    intake(event=event)
    (span,) = memory.spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["clearance.event_id"] == "ev-1"
    assert attrs["clearance.approval_id"] == "ap-1"
    assert attrs["clearance.deployment_id"] == "dep-1"
    assert attrs["clearance.artifact_key"].startswith("image|r.example|models/x|sha256:")
    ((labels, point),) = memory.points("clearance.events")
    assert labels == {"type": "image_pushed", "outcome": "accepted", "code": "none"}
    assert point.value == 1
    ((_, latency),) = memory.points("clearance.intake.approval_request_latency")
    assert latency.count == 1 and latency.sum >= 3


def test_labels_come_from_closed_sets_only(memory: Memory) -> None:
    lineage = TracedLineage(Lineage())

    @traced_trigger("acr_image_pushed")
    def intake(event: func.EventGridEvent) -> None:
        reasons = (Reason(code="made-up-by-a-pusher\u202e", message="x"),)
        lineage.append(record(RecordKind.ARTIFACT_REJECTED, reasons=reasons), idempotency_key="a")
        lineage.append(
            record(RecordKind.DEPLOYMENT_SUCCEEDED, details={"strategy": "tag:v9;drop"}),
            idempotency_key="b",
        )
        lineage.append(
            record(RecordKind.DEPLOYMENT_ANALYSED, details={"verdict": "sha256:" + "b" * 64}),
            idempotency_key="c",
        )

    event = func.EventGridEvent(
        id="e",
        data={},
        topic="t",
        subject="s",
        event_type="Evil.Type\u0000" * 50,
        event_time=None,
        data_version="1",
    )
    intake(event=event)
    ((events, _),) = memory.points("clearance.events")
    assert events == {"type": "other", "outcome": "rejected", "code": "other"}
    ((rollouts, _),) = memory.points("clearance.rollouts")
    assert rollouts == {"strategy": "other", "outcome": "succeeded"}
    ((verdicts, _),) = memory.points("clearance.analysis.verdicts")
    assert verdicts == {"verdict": "other", "strategy": "unknown"}


def test_without_telemetry_the_wrapper_calls_straight_through() -> None:
    runtime.install(None)

    @traced_trigger("x")
    def fn(msg: func.ServiceBusMessage) -> int:
        return 1

    assert fn(msg=bus_message({"traceparent": GOOD})) == 1
    assert with_trace_context({"a": 1}) == {"a": 1}


def test_records_appended_together_annotate_the_span_as_one_by_one(memory: Memory) -> None:
    """The intake and the deciding vote hand their steps over in one transaction
    (``append_all``): each appended record still reaches the span and the metrics, and a
    redelivered one (not appended) counts nothing."""
    lineage = TracedLineage(Lineage())

    @traced_trigger("acr_image_pushed")
    def intake(event: func.EventGridEvent) -> None:
        rec = record(RecordKind.APPROVAL_REQUESTED)
        assert lineage.append_all([(rec, "k")], new_chain=True) == [True]
        assert lineage.append_all([(rec, "k")]) == [False]

    event = func.EventGridEvent(
        id="ev-1",
        data={},
        topic="t",
        subject="s",
        event_type="Microsoft.ContainerRegistry.ImagePushed",
        event_time=datetime.now(UTC),
        data_version="1",
    )
    intake(event=event)
    (span,) = memory.spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["clearance.event_id"] == "ev-1"
    assert attrs["clearance.approval_id"] == "ap-1"
    ((labels, point),) = memory.points("clearance.events")
    assert labels == {"type": "image_pushed", "outcome": "accepted", "code": "none"}
    assert point.value == 1


def test_a_worker_announcing_itself_removes_the_target_files_of_workers_that_are_gone(
    tmp_path: Any,
) -> None:
    """A worker killed before its exit handler ran leaves ``targets/<pid>.json``; Prometheus
    would scrape its dead port for ever. The next worker's announcement removes it and keeps
    the files of live processes (and anything that is not a worker's file)."""
    import json
    import os
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # exited and reaped: its pid names no process now
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        targets = tmp_path / "targets"
        targets.mkdir()
        for pid in (gone.pid, alive.pid):
            (targets / f"{pid}.json").write_text('[{"targets": ["127.0.0.1:1"]}]')
        (targets / "notes.json").write_text("[]")
        mine = runtime._announce(tmp_path, 4242, {"CLEARANCE_REGION": "westeurope"})
        names = sorted(p.name for p in targets.glob("*.json"))
        assert names == sorted([f"{alive.pid}.json", "notes.json", f"{os.getpid()}.json"])
        assert json.loads(mine.read_text())[0]["targets"] == ["127.0.0.1:4242"]
    finally:
        alive.kill()
        alive.wait()
