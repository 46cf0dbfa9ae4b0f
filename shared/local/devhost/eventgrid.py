"""Event Grid triggers at POST /runtime/webhooks/eventgrid?functionName=<name>.

The contract of the Functions host's Event Grid extension:
- ``aeg-event-type: SubscriptionValidation`` -> 200 ``{"validationResponse": <code>}``;
- ``aeg-event-type: Notification`` -> every event of the batch is handed to the function
  (Event Grid schema or CloudEvents 1.0), 202 when all succeeded, 500 otherwise so that
  Event Grid retries the batch;
- CloudEvents abuse-protection handshake: ``OPTIONS`` with ``WebHook-Request-Origin``;
- unknown function 404, missing/unknown event-type header or malformed body 400,
  a body larger than Event Grid ever sends (1 MiB) 413.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from shared.domain import bounded_json
from shared.local.devhost.app_index import FunctionIndex
from shared.local.devhost.http_routes import Reply

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 1024 * 1024
WEBHOOK_PATH = "/runtime/webhooks/eventgrid"


def _json(status: int, doc: object) -> Reply:
    return Reply(status, [("Content-Type", "application/json")], json.dumps(doc).encode())


def _text(status: int, text: str) -> Reply:
    return Reply(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


def decode_event(event: dict[str, Any]) -> Any:
    """The binding object the Python worker would build for this event."""
    datum = meta.Datum(value=json.dumps(event), type="json")
    return EventGridEventInConverter.decode(datum, trigger_metadata=None)


class EventGridWebhook:
    def __init__(self, index: FunctionIndex) -> None:
        self._index = index

    def handle(
        self, method: str, function_name: str | None, headers: dict[str, str], body: bytes
    ) -> Reply:
        fn = self._index.get(function_name or "")
        if fn is None or fn.trigger_type != "eventGridTrigger":
            return _text(404, f"no Event Grid function named {function_name!r}")
        lower = {k.lower(): v for k, v in headers.items()}
        if method == "OPTIONS":
            origin = lower.get("webhook-request-origin")
            if not origin:
                return _text(400, "missing WebHook-Request-Origin")
            return Reply(
                200, [("WebHook-Allowed-Origin", origin), ("WebHook-Allowed-Rate", "*")], b""
            )
        if method != "POST":
            return _text(405, "use POST")
        if len(body) > MAX_BATCH_BYTES:
            return _text(413, f"event batch over {MAX_BATCH_BYTES} bytes")
        kind = lower.get("aeg-event-type")
        if kind is None:
            return _text(400, "missing aeg-event-type header")
        try:
            doc = bounded_json.loads(body, max_bytes=MAX_BATCH_BYTES)
        except bounded_json.JsonLimitError as exc:
            return _text(400, f"body refused: {exc}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _text(400, f"body is not JSON: {exc}")
        events = doc if isinstance(doc, list) else [doc]
        if not events or not all(isinstance(e, dict) for e in events):
            return _text(400, "body must be an event or an array of events")
        if kind == "SubscriptionValidation":
            code = (events[0].get("data") or {}).get("validationCode")
            if not code:
                return _text(400, "validation event without data.validationCode")
            return _json(200, {"validationResponse": code})
        if kind != "Notification":
            return _text(400, f"unsupported aeg-event-type {kind!r}")
        for event in events:
            try:
                fn.invoke(decode_event(event))
            except Exception as exc:
                log.exception("function %s failed on event %s", fn.name, event.get("id"))
                return _text(500, f"function {fn.name} failed: {type(exc).__name__}")
        return Reply(202, [], b"")
