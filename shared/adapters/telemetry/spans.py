"""Spans at the edges: one per trigger invocation, one per adapter call (SMTP, Teams,
Kubernetes, git, Prometheus here; one per storage or registry request in ``sdk_requests``),
and the trace context written into outgoing messages so the consumer's invocation continues
the same trace.

Correlation (event id, artifact key, approval id, deployment id) is set on the invocation's
span from the lineage records the invocation appends (``TracedLineage``): every step of an
artifact's journey writes lineage, so every step's span carries its ids without any service
knowing about telemetry.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from shared.adapters.telemetry.context import (
    TRACEPARENT,
    RemoteParent,
    parent_from_properties,
    parse_traceparent,
)
from shared.adapters.telemetry.runtime import configured, telemetry

F = TypeVar("F", bound=Callable[..., Any])
MAX_ATTRIBUTE = 512

# The invocation's span and notes (event type/time, approvals read, strategy), per context.
_invocation: contextvars.ContextVar[tuple[Any, dict[str, Any]] | None] = contextvars.ContextVar(
    "clearance_invocation", default=None
)


def traced_trigger(
    name: str, *, parent: Callable[[Any], str | None] | None = None
) -> Callable[[F], F]:
    """Wrap a trigger function: one span per invocation, continuing the binding's trace.

    ``parent`` may name a stored trace to continue (the approval review continues the trace
    of the artifact whose approval it decides); the binding's own context is then a link.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = telemetry()
            if state is None:
                return fn(*args, **kwargs)
            binding = next(iter(kwargs.values()), None) if kwargs else (args[0] if args else None)
            with invocation(state, name, binding, parent):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _binding_context(binding: Any) -> tuple[str, RemoteParent | None, dict[str, Any], dict]:
    """(span kind, remote parent, attributes, notes) of a trigger binding, read defensively."""
    attrs: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    cls = type(binding).__name__
    if cls == "ServiceBusMessage":
        props = getattr(binding, "application_properties", None)
        attrs["messaging.system"] = "servicebus"
        attrs["messaging.message_id"] = _clip(getattr(binding, "message_id", None))
        attrs["messaging.delivery_count"] = int(getattr(binding, "delivery_count", 0) or 0)
        return "consumer", parent_from_properties(props), attrs, notes
    if cls == "EventGridEvent":
        from shared.adapters.telemetry.instruments import event_type

        notes["event_type"] = event_type(getattr(binding, "event_type", None))
        stamp = getattr(binding, "event_time", None)
        if isinstance(stamp, datetime) and stamp.tzinfo is not None:
            notes["event_time"] = stamp
        attrs["clearance.event_id"] = _clip(getattr(binding, "id", None))
        attrs["clearance.event_type"] = notes["event_type"]
        return "consumer", None, attrs, notes
    if cls == "HttpRequest":
        headers = getattr(binding, "headers", None) or {}
        attrs["http.request.method"] = _clip(getattr(binding, "method", None))
        try:
            header = headers.get(TRACEPARENT)
        except Exception:  # noqa: BLE001
            header = None
        return "server", parse_traceparent(header), attrs, notes
    return "internal", None, attrs, notes


@contextmanager
def invocation(
    state: Any, name: str, binding: Any, stored: Callable[[Any], str | None] | None = None
) -> Iterator[Any]:
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    kind, remote, attrs, notes = _binding_context(binding)
    links = []
    if stored is not None:
        try:
            adopted = parse_traceparent(stored(binding))
        except Exception:  # noqa: BLE001 - no stored trace: a trace of its own
            adopted = None
        if adopted is not None:
            if remote is not None:
                links.append(Link(_span_context(remote)))
            remote = adopted
    ctx = None
    if remote is not None:
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(_span_context(remote)))
    attrs["faas.name"] = name
    span_kind = {"consumer": SpanKind.CONSUMER, "server": SpanKind.SERVER}.get(
        kind, SpanKind.INTERNAL
    )
    clean = {k: v for k, v in attrs.items() if v is not None}
    started = time.perf_counter()
    with state.tracer.start_as_current_span(
        name,
        context=ctx,
        kind=span_kind,
        attributes=clean,
        links=links,
        record_exception=True,
        set_status_on_exception=True,
    ) as span:
        token = _invocation.set((span, notes))
        result = "ok"
        try:
            yield span
        except BaseException:
            result = "error"
            span.set_status(Status(StatusCode.ERROR))
            raise
        finally:
            _invocation.reset(token)
            state.meters.invocations.add(1, {"function": name, "result": result})
            span.set_attribute("clearance.duration_ms", (time.perf_counter() - started) * 1000)


def _span_context(parent: RemoteParent) -> Any:
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(
        trace_id=parent.trace_id,
        span_id=parent.span_id,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def in_invocation() -> bool:
    """Whether a traced trigger invocation is running in this context."""
    return _invocation.get() is not None


def current_traceparent() -> str | None:
    """The traceparent of the current span (to put into an outgoing message), if any."""
    if configured() is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def with_trace_context(properties: Mapping[str, Any]) -> dict[str, Any]:
    """``properties`` plus this span's traceparent (replacing any that came with them)."""
    out = dict(properties)
    parent = current_traceparent()
    if parent is not None:
        out[TRACEPARENT] = parent
    return out


@contextmanager
def adapter_span(name: str, **attributes: Any) -> Iterator[None]:
    """A client span around one adapter call, inside an invocation (else nothing)."""
    state = configured()
    if state is None or _invocation.get() is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    clean = {k: _clip(v) for k, v in attributes.items() if v is not None}
    with state.tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=clean):
        yield


def traced_call(name: str) -> Callable[[F], F]:
    """``adapter_span`` as a method decorator."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with adapter_span(name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def note_approval(approval: Any) -> None:
    """An approval this invocation read: its ids go on the span, its opening time gives the
    time to decision."""
    current = _invocation.get()
    if current is None:
        return
    span, notes = current
    notes.setdefault("approvals", {})[approval.approval_id] = approval.created_at
    _add(span, "clearance.approval_id", approval.approval_id)
    _add(span, "clearance.artifact_key", approval.artifact.key)


def annotate_record(record: Any) -> None:
    """Put a lineage record's correlation on the invocation span; count it in the metrics."""
    current = _invocation.get()
    state = configured()
    if current is None or state is None:
        return
    span, notes = current
    _add(span, "clearance.artifact_key", record.artifact.key)
    corr = record.correlation
    _add(span, "clearance.event_id", corr.event_id)
    _add(span, "clearance.approval_id", corr.approval_id)
    _add(span, "clearance.deployment_id", corr.deployment_id)
    _add(span, "clearance.records", str(record.kind))
    span.add_event(str(record.kind), {"clearance.region": record.region})
    state.meters.observe_record(record, notes)


def _add(span: Any, key: str, value: str | None) -> None:
    """Set ``key`` on the span, a list once an invocation touches several values."""
    if not value:
        return
    value = _clip(value)
    have = getattr(span, "attributes", None) or {}
    old = have.get(key)
    if old is None:
        span.set_attribute(key, value)
    elif isinstance(old, str):
        if old != value:
            span.set_attribute(key, [old, value])
    elif value not in old and len(old) < 32:
        span.set_attribute(key, [*old, value])


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE]
    return value


class TracedLineage:
    """A LineageWriter that annotates the invocation span with each record it appends."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def append(self, record: Any, *, idempotency_key: str | None = None) -> bool:
        appended = bool(self._inner.append(record, idempotency_key=idempotency_key))
        if appended:
            annotate_record(record)
        return appended

    def append_all(self, entries: Any, **kwargs: Any) -> list[bool]:
        """Several records in one transaction: each appended one annotates the span."""
        entries = list(entries)
        appended = [bool(a) for a in self._inner.append_all(entries, **kwargs)]
        for (record, _key), was_appended in zip(entries, appended, strict=False):
            if was_appended:
                annotate_record(record)
        return appended

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def publish_status(status: Any) -> None:
    """The cell's status as gauges (a no-op without telemetry)."""
    state = configured()
    if state is None:
        return
    from shared.adapters.telemetry import instruments as names

    meters = state.meters
    meters.set_gauge(names.APPROVALS_PENDING, [(float(status.pending), {})])
    meters.set_gauge(names.APPROVALS_OLDEST_AGE, [(status.oldest_pending_seconds, {})])
    meters.set_gauge(names.APPROVALS_OVERDUE, [(float(len(status.overdue)), {})])
    meters.set_gauge(names.ROLLOUTS_STUCK, [(float(len(status.stuck)), {})])
    meters.set_gauge(names.ROLLOUTS_IN_PROGRESS, [(float(status.in_progress), {})])
    meters.set_gauge(
        names.DEAD_LETTER_DEPTH,
        [
            (float(n), {"queue": names.bounded(q, names.QUEUES)})
            for q, n in sorted(status.dead_letters.items())
        ],
    )
    age = status.checkpoint_age_seconds
    meters.set_gauge(names.CHECKPOINT_AGE, [] if age is None else [(age, {})])
