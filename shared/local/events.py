"""Realistic Event Grid events for the local stack: what Azure ML and Event Grid would send."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.local.stack import LOCAL_SUBSCRIPTION, LocalStack

MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"


def workspace_id(region: str) -> str:
    return (
        f"/subscriptions/{LOCAL_SUBSCRIPTION}/resourceGroups/clearance-local-{region}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/mlw-{region}"
    )


def model_registered(
    region: str,
    name: str,
    version: int | str,
    tags: dict[str, str],
    *,
    casing: str = "pascal",
    schema: str = "eventgrid",
    event_id: str | None = None,
    topic: str | None = None,
) -> dict[str, Any]:
    """A ModelRegistered event; AML documents both data casings (PascalCase: numeric version)."""
    if casing not in ("pascal", "camel") or schema not in ("eventgrid", "cloudevents"):
        raise ValueError(
            f"casing {casing!r} / schema {schema!r}: pascal|camel, eventgrid|cloudevents"
        )
    if casing == "pascal":
        data: dict[str, Any] = {
            "ModelName": name,
            "ModelVersion": int(version) if str(version).isdigit() else version,
            "ModelTags": tags,
            "ModelProperties": {},
        }
    else:
        data = {
            "modelName": name,
            "modelVersion": str(version),
            "modelTags": tags,
            "modelProperties": {},
        }
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    source = topic or workspace_id(region)
    ident = event_id or str(uuid.uuid4())
    if schema == "cloudevents":
        return {
            "specversion": "1.0",
            "id": ident,
            "source": source,
            "subject": f"models/{name}:{version}",
            "type": MODEL_REGISTERED,
            "time": now,
            "data": data,
        }
    return {
        "id": ident,
        "topic": source,
        "subject": f"models/{name}:{version}",
        "eventType": MODEL_REGISTERED,
        "eventTime": now,
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": data,
    }


def deliver(host_url: str, function: str, events: list[dict[str, Any]]) -> int:
    """POST events to a host's Event Grid webhook as Event Grid does; returns the status
    (0 when the host did not answer)."""
    cloud = all("specversion" in e for e in events)
    request = urllib.request.Request(  # noqa: S310 - the local host
        f"{host_url}/runtime/webhooks/eventgrid?functionName={function}",
        data=json.dumps(events).encode(),
        method="POST",
        headers={
            "aeg-event-type": "Notification",
            "Content-Type": "application/cloudevents-batch+json" if cloud else "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0  # no answer: Event Grid retries, as for a 5xx


def image_pushed(
    stack: LocalStack,
    region: str,
    repository: str,
    digest: str,
    tag: str | None = None,
    *,
    event_id: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """An ImagePushed event for a manifest already in ``region``'s registry, exactly as the
    registry bridge (and ACR) would raise it: for tests and benchmarks that deliver events
    themselves (redeliveries, duplicates, forged hosts). ``actor``: the authenticated pusher
    (ACR's ``data.actor.name``; an htpasswd user of the local registry)."""
    from shared.local.devhost.registry_bridge import to_image_pushed

    entry = next(r for r in stack.catalog()["regions"] if r["name"] == region)
    target: dict[str, Any] = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
        "length": 1,
        "repository": repository,
    }
    if tag:
        target["tag"] = tag
    return to_image_pushed(
        {
            "id": event_id or str(uuid.uuid4()),
            "action": "push",
            "timestamp": datetime.now(UTC).isoformat(),
            "target": target,
            "request": {"id": str(uuid.uuid4()), "method": "PUT", "useragent": "clearance-local"},
            **({"actor": {"name": actor}} if actor else {}),
        },
        region=region,
        login_server=stack.login_server(region),
        registry_resource_id=entry["registry"]["resource_id"],
    )
