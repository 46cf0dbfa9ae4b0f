"""Who registered an Azure ML model: ``Model.creation_context.created_by`` via ``azure-ai-ml``.

The workspace records the authenticated creator (``systemData.createdBy``), which the event and
the tags do not carry. Locally a directory of small JSON files stands in for the workspace:
``<dir>/<workspace>/<model>/<version>.json`` = ``{"created_by": ..., "object_id": ...}``, written
by ``clearance simulate model-registered --as``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from shared.domain.errors import TransientError
from shared.ports.registrant import Registrant

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class AmlRegistrants:
    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, subscription_id: str, resource_group: str, workspace: str) -> Any:
        from azure.ai.ml import MLClient

        key = (subscription_id, resource_group, workspace)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = MLClient(
                    self._credential, subscription_id, resource_group, workspace
                )
            return self._clients[key]

    def registrant(
        self, subscription_id: str, resource_group: str, workspace: str, name: str, version: str
    ) -> Registrant | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        client = self._client(subscription_id, resource_group, workspace)
        try:
            model = client.models.get(name=name, version=version)
        except ResourceNotFoundError:
            return None  # deleted since: intake goes on without a registrant
        except AzureError as exc:
            raise TransientError(f"Azure ML {workspace}: model {name}:{version}: {exc}") from exc
        context = getattr(model, "creation_context", None)
        created_by = getattr(context, "created_by", None)
        return Registrant(str(created_by)) if created_by else None


class LocalRegistrants:
    def __init__(self, root: Path) -> None:
        self._root = root

    def registrant(
        self, subscription_id: str, resource_group: str, workspace: str, name: str, version: str
    ) -> Registrant | None:
        parts = (workspace, name, f"{version}.json")
        if not all(p and set(p) <= _SAFE and p not in {".", ".."} for p in parts):
            return None
        path = self._root.joinpath(*parts)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise TransientError(f"local registrant {path}: {exc}") from exc
        created_by = doc.get("created_by") if isinstance(doc, dict) else None
        if not isinstance(created_by, str) or not created_by:
            return None
        oid = doc.get("object_id")
        return Registrant(created_by, oid if isinstance(oid, str) else None)
