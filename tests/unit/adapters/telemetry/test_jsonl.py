"""Local spans: written as JSON lines, read back past damaged lines, grouped into traces."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link

from shared.adapters.telemetry.jsonl import JsonlSpanExporter, read_spans, trace_of


def test_spans_round_trip_and_a_needle_finds_its_trace_and_linked_ones(tmp_path: Path) -> None:
    exporter = JsonlSpanExporter(tmp_path / "spans-1.jsonl")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("other") as other:
        pass
    with (
        tracer.start_as_current_span(
            "acr_image_pushed", attributes={"clearance.event_id": "ev-1"}
        ) as root,
        tracer.start_as_current_span("TableClient.get_entity"),
    ):
        pass
    with tracer.start_as_current_span(
        "review", links=[Link(root.get_span_context())], attributes={"clearance.approval_id": "a"}
    ):
        pass
    with tracer.start_as_current_span("unrelated"):
        pass
    exporter.shutdown()
    with (tmp_path / "spans-1.jsonl").open("a") as out:
        out.write('{"cut short by a crash\n[1, 2]\n')
    spans = list(read_spans([tmp_path, tmp_path / "missing"]))
    assert len(spans) == 5
    names = [s["name"] for s in trace_of(spans, "ev-1")]
    assert sorted(names) == ["TableClient.get_entity", "acr_image_pushed"]
    linked = {s["name"] for s in trace_of(spans, "a")}
    assert linked == {"review", "acr_image_pushed", "TableClient.get_entity"}
    by_id = trace_of(spans, f"{other.get_span_context().trace_id:032x}")
    assert [s["name"] for s in by_id] == ["other"]
    assert trace_of(spans, "nothing") == []
