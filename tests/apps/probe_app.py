"""A FunctionApp with one function of every trigger kind, recording what it receives.

The local host tests drive it exactly as they drive ``function_app.app``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import azure.functions as func

app = func.FunctionApp()
_lock = threading.Lock()
RECORD: dict[str, list[Any]] = {"events": [], "deliveries": [], "ticks": []}


def reset() -> None:
    with _lock:
        for value in RECORD.values():
            value.clear()


def _add(kind: str, item: Any) -> None:
    with _lock:
        RECORD[kind].append(item)


@app.event_grid_trigger(arg_name="event")
def acr_image_pushed(event: func.EventGridEvent) -> None:
    _add("events", event)


@app.event_grid_trigger(arg_name="event")
def always_fails(event: func.EventGridEvent) -> None:
    raise RuntimeError("handler failure on purpose")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="probe-work", connection="SB")
def work(msg: func.ServiceBusMessage) -> None:
    body = json.loads(msg.get_body())
    _add(
        "deliveries",
        {
            "at": time.time(),
            "message_id": msg.message_id,
            "delivery_count": msg.delivery_count,
            "enqueued_time_utc": msg.enqueued_time_utc,
            "application_properties": dict(msg.application_properties),
            "body": body,
        },
    )
    if body.get("always_fail") or msg.delivery_count < body.get("succeed_on_delivery", 1):
        raise RuntimeError(f"failing delivery {msg.delivery_count} on purpose")


@app.route(route="items/{item_id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    doc = {"item_id": req.route_params["item_id"], "q": req.params.get("q"), "method": req.method}
    return func.HttpResponse(json.dumps(doc), mimetype="application/json")


@app.route(route="items", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def post_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), status_code=201, mimetype="application/json")


@app.route(route="crash", auth_level=func.AuthLevel.ANONYMOUS)
def crash(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("unhandled on purpose")


@app.schedule(schedule="* * * * * *", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    _add("ticks", time.time())
