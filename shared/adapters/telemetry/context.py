"""W3C trace context in message envelopes, read defensively.

A traceparent arrives from whoever wrote the message or the HTTP request: anything that is not
a well-formed ``version-traceid-parentid-flags`` header is ignored (processing goes on in a new
trace), never an error. No OpenTelemetry import here: it is parsed before the SDK is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

TRACEPARENT = "traceparent"
# What azure-servicebus's own tracing writes (Diagnostic-Id carries a traceparent value).
DIAGNOSTIC_ID = "Diagnostic-Id"
MAX_TRACEPARENT = 512  # a future version may append fields; nothing sane is longer
_V00 = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class RemoteParent:
    trace_id: int
    span_id: int
    sampled: bool

    def header(self) -> str:
        return format_traceparent(self.trace_id, self.span_id, self.sampled)


def format_traceparent(trace_id: int, span_id: int, sampled: bool = True) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def parse_traceparent(value: object) -> RemoteParent | None:
    """The parent a traceparent names, or None for anything malformed (W3C trace-context)."""
    if not isinstance(value, str) or not 55 <= len(value) <= MAX_TRACEPARENT:
        return None
    version = value[:2]
    if version == "00":
        if len(value) != 55:
            return None
        head = value
    else:
        # a later version: its first four fields read as version 00, more may follow after "-"
        if len(value) > 55 and value[55] != "-":
            return None
        head = value[:55]
    match = _V00.match(head)
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if trace_id == 0 or span_id == 0:
        return None
    return RemoteParent(trace_id, span_id, bool(int(match.group(4), 16) & 1))


def parent_from_properties(properties: object) -> RemoteParent | None:
    """The trace parent carried in a message's application properties, if well formed."""
    if not isinstance(properties, Mapping):
        return None
    for key in (TRACEPARENT, DIAGNOSTIC_ID):
        try:
            value = properties.get(key)
        except Exception:  # noqa: BLE001 - a hostile mapping; no parent then
            return None
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        parent = parse_traceparent(value)
        if parent is not None:
            return parent
    return None
