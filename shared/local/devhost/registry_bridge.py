"""Turns docker-registry push notifications into ACR ``ImagePushed`` Event Grid events.

The registry POSTs an envelope of events to the host for every blob and manifest operation.
Azure Container Registry raises ``Microsoft.ContainerRegistry.ImagePushed`` only for
manifest pushes, shaped as documented (subject ``repo:tag``, or ``repo@digest`` for a push by
digest; ``data`` with id, timestamp, action, location, target, request). The bridge then
delivers them like Event Grid: POST to the cell's webhook with ``aeg-event-type:
Notification``, retrying on failure with back-off, and writing a dead-letter blob after the
last attempt.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.domain import bounded_json

log = logging.getLogger(__name__)

IMAGE_PUSHED = "Microsoft.ContainerRegistry.ImagePushed"
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)


def is_manifest_push(event: dict[str, Any]) -> bool:
    target = event.get("target") or {}
    if event.get("action") != "push":
        return False
    if target.get("mediaType") in MANIFEST_MEDIA_TYPES:
        return True
    return "/manifests/" in str(target.get("url", ""))


def to_image_pushed(
    event: dict[str, Any], *, region: str, login_server: str, registry_resource_id: str
) -> dict[str, Any]:
    target = event.get("target") or {}
    request = event.get("request") or {}
    actor = event.get("actor") or {}
    repository = str(target.get("repository", ""))
    tag = target.get("tag") or None
    digest = str(target.get("digest", ""))
    size = target.get("size", target.get("length", 0))
    data_target: dict[str, Any] = {
        "mediaType": target.get("mediaType"),
        "size": size,
        "digest": digest,
        "length": target.get("length", size),
        "repository": repository,
    }
    if tag:
        data_target["tag"] = tag
    timestamp = str(event.get("timestamp") or datetime.now(UTC).isoformat())
    return {
        "id": str(event.get("id") or uuid.uuid4()),
        "topic": registry_resource_id,
        "subject": f"{repository}:{tag}" if tag else f"{repository}@{digest}",
        "eventType": IMAGE_PUSHED,
        "eventTime": timestamp,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "data": {
            "id": str(event.get("id") or uuid.uuid4()),
            "timestamp": timestamp,
            "action": "push",
            "location": region,
            "target": data_target,
            "request": {
                "id": str(request.get("id", "")),
                "host": login_server,
                "method": str(request.get("method", "PUT")),
                "useragent": str(request.get("useragent", "")),
            },
            # ACR's data.actor.name: the authenticated user (the registry's htpasswd user here)
            **({"actor": {"name": str(actor["name"])}} if actor.get("name") else {}),
        },
    }


@dataclass(frozen=True)
class Delivery:
    event: dict[str, Any]
    attempt: int = 0


class EventGridDeliverer:
    """Delivers events to one webhook URL with Event Grid's retry and dead-letter behaviour."""

    def __init__(
        self,
        url: str,
        *,
        retry_delays: Sequence[float] = (1, 2, 5, 10, 30),
        dead_letter: Callable[[dict[str, Any], str, int], None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.retry_delays = tuple(retry_delays)
        self._dead_letter = dead_letter
        self._timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="eventgrid-delivery", daemon=True)
        self._timers: list[threading.Timer] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        for t in self._timers:
            t.cancel()
        self._thread.join(timeout=5)

    def submit(self, event: dict[str, Any]) -> None:
        self._queue.put(Delivery(event))

    def _post(self, event: dict[str, Any]) -> int:
        request = urllib.request.Request(  # noqa: S310 - the cell's own http webhook
            self.url,
            data=json.dumps([event]).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "aeg-event-type": "Notification"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            log.warning("event grid delivery to %s failed: %s", self.url, exc)
            return 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            status = self._post(item.event)
            if 200 <= status < 300:
                continue
            # Event Grid does not retry 400/404/413: the endpoint said the event is unusable.
            retryable = status == 0 or status >= 500 or status in (408, 429)
            if retryable and item.attempt < len(self.retry_delays):
                delay = self.retry_delays[item.attempt]
                nxt = Delivery(item.event, item.attempt + 1)
                timer = threading.Timer(delay, self._queue.put, args=(nxt,))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
                continue
            reason = "MaxDeliveryAttemptsExceeded" if retryable else f"HTTP {status}"
            log.error("event %s dead-lettered: %s", item.event.get("id"), reason)
            if self._dead_letter is not None:
                self._dead_letter(item.event, reason, item.attempt + 1)


class RegistryBridge:
    def __init__(
        self,
        deliverer: EventGridDeliverer,
        *,
        region: str,
        login_server: str,
        registry_resource_id: str,
    ) -> None:
        self._deliverer = deliverer
        self._region = region
        self._login_server = login_server
        self._resource_id = registry_resource_id

    def accept(self, envelope: bytes) -> int:
        """Handle one registry notification envelope; returns how many events it raised."""
        doc = bounded_json.loads(envelope)  # a JsonLimitError is a ValueError: answered 400
        if not isinstance(doc, dict):
            raise ValueError("the envelope is not a JSON object")
        raised = 0
        for event in doc.get("events") or []:
            if not isinstance(event, dict) or not is_manifest_push(event):
                continue
            self._deliverer.submit(
                to_image_pushed(
                    event,
                    region=self._region,
                    login_server=self._login_server,
                    registry_resource_id=self._resource_id,
                )
            )
            raised += 1
        return raised
