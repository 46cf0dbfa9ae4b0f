"""Spans as JSON lines on the local stack (one file per process), and reading them back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 64 * 1024 * 1024  # then the file is rotated once (``.1``)


class JsonlSpanExporter:
    """An OpenTelemetry SpanExporter writing one JSON object per finished span."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._out: Any = None  # kept open between batches

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = "".join(json.dumps(span_doc(s), separators=(",", ":")) + "\n" for s in spans)
        try:
            with self._lock:
                if self._out is None:
                    self._out = self._path.open("a", encoding="utf-8")
                self._out.write(lines)
                self._out.flush()
                if self._out.tell() > MAX_FILE_BYTES:
                    self._out.close()
                    self._path.replace(self._path.with_suffix(".jsonl.1"))
                    self._out = None
        except OSError:
            self._out = None
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_doc(span: Any) -> dict[str, Any]:
    ctx = span.context
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "kind": span.kind.name.lower(),
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name.lower(),
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
        "instance": span.resource.attributes.get("service.instance.id"),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return [_plain(v) for v in value]


def read_spans(folders: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """Every span under ``folders`` (``spans-*.jsonl``, rotated files too); bad lines skipped."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("spans-*.jsonl*")):
            with path.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash
                    if isinstance(doc, dict) and "trace_id" in doc:
                        yield doc


CORRELATION_KEYS = (
    "clearance.event_id",
    "clearance.artifact_key",
    "clearance.approval_id",
    "clearance.deployment_id",
    "messaging.message_id",
)


def trace_of(spans: Sequence[dict[str, Any]], needle: str) -> list[dict[str, Any]]:
    """Every span of the traces that ``needle`` (a correlation id or a trace id) names,
    plus the traces linked to them, oldest first."""
    traces = {
        s["trace_id"]
        for s in spans
        if s["trace_id"] == needle
        or any(_has(s.get("attributes", {}).get(k), needle) for k in CORRELATION_KEYS)
    }
    linked = {
        link["trace_id"]
        for s in spans
        if s["trace_id"] in traces
        for link in s.get("links") or []
        if isinstance(link, dict)
    }
    wanted = traces | linked
    return sorted((s for s in spans if s["trace_id"] in wanted), key=lambda s: s.get("start") or 0)


def _has(value: Any, needle: str) -> bool:
    if isinstance(value, list):
        return needle in value
    return value == needle
