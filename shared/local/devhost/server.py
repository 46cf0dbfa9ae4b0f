"""The local Functions host: one HTTP server plus queue pollers and timers for one cell."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func

from shared.adapters.storage.resources import ensure_created
from shared.local.devhost.app_index import FunctionIndex, index_app
from shared.local.devhost.easy_auth import LocalEasyAuth
from shared.local.devhost.eventgrid import WEBHOOK_PATH, EventGridWebhook
from shared.local.devhost.http_routes import HttpRouter, Reply
from shared.local.devhost.registry_bridge import EventGridDeliverer, RegistryBridge
from shared.local.devhost.servicebus import DeliveryPolicy, QueueTriggerRunner
from shared.local.devhost.timers import TimerRunner
from shared.local.http_server import QuietThreadingHTTPServer

log = logging.getLogger(__name__)

REGISTRY_NOTIFICATIONS_PATH = "/runtime/registry/notifications"
EVENTGRID_DEADLETTER_CONTAINER = "eventgrid-deadletter"
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class ReusePortHTTPServer(QuietThreadingHTTPServer):
    """One of several worker processes accepting on the same port."""

    allow_reuse_port = True


class DevHost:
    def __init__(
        self,
        app: func.FunctionApp,
        *,
        host: str = "127.0.0.1",
        port: int = 7071,
        host_json: dict[str, Any] | None = None,
        container: Any = None,
        registry_event_function: str | None = "acr_image_pushed",
        eventgrid_retry_delays: Sequence[float] = (1, 2, 5, 10, 30),
        reuse_port: bool = False,
        timers: bool = True,
        easy_auth: LocalEasyAuth | None = None,
    ) -> None:
        self.easy_auth = easy_auth
        self.index: FunctionIndex = index_app(app)
        self.container = container
        host_json = host_json or {}
        prefix = ((host_json.get("extensions") or {}).get("http") or {}).get("routePrefix", "api")
        self.router = HttpRouter(self.index, prefix)
        self.webhook = EventGridWebhook(self.index)
        self.policy = DeliveryPolicy.from_host_json(host_json)
        self._run_timers = timers
        server_class = ReusePortHTTPServer if reuse_port else QuietThreadingHTTPServer
        self._server = server_class((host, port), _handler_for(self))
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._threads: list[threading.Thread] = []
        self.queue_runners: list[QueueTriggerRunner] = []
        self.timer_runners: list[TimerRunner] = []
        self.bridge: RegistryBridge | None = None
        self._deliverer: EventGridDeliverer | None = None
        if registry_event_function and self.index.get(registry_event_function) and container:
            self._deliverer = EventGridDeliverer(
                f"{self.base_url}{WEBHOOK_PATH}?functionName={registry_event_function}",
                retry_delays=eventgrid_retry_delays,
                dead_letter=self._dead_letter_event,
            )
            cell = container.settings.cell
            self.bridge = RegistryBridge(
                self._deliverer,
                region=cell.name,
                login_server=cell.registry.login_server,
                registry_resource_id=cell.registry.resource_id
                or f"/local/registries/{cell.registry.login_server}",
            )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> DevHost:
        t = threading.Thread(target=self._server.serve_forever, name="devhost-http", daemon=True)
        t.start()
        self._threads.append(t)
        if self._deliverer:
            self._deliverer.start()
        if self.container is not None:
            for fn in self.index.of_type("serviceBusTrigger"):
                runner = QueueTriggerRunner(fn, self.container.queue_service, self.policy)
                runner.start()
                self.queue_runners.append(runner)
        for fn in self.index.of_type("timerTrigger") if self._run_timers else []:
            timer = TimerRunner(fn)
            timer.start()
            self.timer_runners.append(timer)
        return self

    def stop(self) -> None:
        for runner in self.queue_runners:
            runner.stop()
        for timer in self.timer_runners:
            timer.stop()
        if self._deliverer:
            self._deliverer.stop()
        self._server.shutdown()
        self._server.server_close()

    def status(self) -> dict[str, Any]:
        return {
            "state": "Running",
            "functions": sorted(
                {"name": f.name, "trigger": f.trigger_type}.items()
                for f in self.index.functions.values()
            ),
        }

    # -- dispatch --------------------------------------------------------------------------
    def dispatch(self, method: str, path_qs: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(path_qs)
        path = parts.path.rstrip("/") or "/"
        if path == WEBHOOK_PATH:
            names = parse_qs(parts.query).get("functionName", [])
            name = names[0] if names else None
            return self.webhook.handle(method, name, headers, body)
        if path == REGISTRY_NOTIFICATIONS_PATH and method == "POST":
            if self.bridge is None:
                # Like Event Grid with no subscription for the event type: nothing to deliver.
                return Reply(200, [("Content-Type", "application/json")], b'{"events_raised":0}')
            try:
                raised = self.bridge.accept(body)
            except (ValueError, AttributeError) as exc:
                return Reply(400, [], f"bad notification envelope: {exc}".encode())
            return Reply(
                200,
                [("Content-Type", "application/json")],
                json.dumps({"events_raised": raised}).encode(),
            )
        if path == "/admin/host/status" and method == "GET":
            doc = {
                "state": "Running",
                "functions": [
                    {"name": f.name, "trigger": f.trigger_type}
                    for f in self.index.functions.values()
                ],
            }
            return Reply(200, [("Content-Type", "application/json")], json.dumps(doc).encode())
        if self.easy_auth is not None:
            if path == "/.auth/login/local" and method == "GET":
                return Reply(*self.easy_auth.login(parts.query))
            headers = self.easy_auth.principal_for(headers)  # as App Service: never the client's
        if self.router.handles(path):
            url = f"{self.base_url}{path_qs}"
            try:
                return self.router.dispatch(method, url, headers, body)
            except Exception:
                log.exception("HTTP function failed for %s %s", method, path)
                return Reply(500, [("Content-Type", "text/plain")], b"internal server error")
        return Reply(404, [("Content-Type", "text/plain")], b"not found")

    def _dead_letter_event(self, event: dict[str, Any], reason: str, attempts: int) -> None:
        from azure.core.exceptions import AzureError

        now = datetime.now(UTC)
        doc = dict(
            event,
            deadLetterReason=reason,
            deliveryAttempts=attempts,
            lastDeliveryAttemptTime=now.isoformat(),
        )
        name = f"{now:%Y/%m/%d/%H}/{uuid.uuid4()}.json"
        try:
            container = self.container.blob_service.get_container_client(
                EVENTGRID_DEADLETTER_CONTAINER
            )
            ensure_created(container.create_container)
            container.upload_blob(name, json.dumps([doc]).encode(), overwrite=False)
        except AzureError:
            log.exception("could not write the dead-letter blob for event %s", event.get("id"))


def _handler_for(host: DevHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s - %s", self.address_string(), format % args)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._send(Reply(413, [], b"request body too large"))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            reply = host.dispatch(self.command, self.path, headers, body)
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for k, v in reply.headers:
                if k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    return Handler
