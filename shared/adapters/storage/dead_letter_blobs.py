"""Event Grid dead letters: the JSON blobs Event Grid writes to the cell's storage container."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.adapters.storage.resources import ensure_created
from shared.domain import bounded_json
from shared.domain.errors import TransientError

CONTAINER = "eventgrid-deadletter"
RECORDED = "clearance_recorded"
MAX_BLOB_BYTES = 4 * 1024 * 1024


class BlobDeadLetters:
    def __init__(self, blob_service: Any) -> None:
        self._service = blob_service

    def _container(self) -> Any:
        container = self._service.get_container_client(CONTAINER)
        ensure_created(container.create_container)
        return container

    def pending(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Blobs not yet recorded, with the events they hold (Event Grid writes an array)."""
        from azure.core.exceptions import AzureError

        try:
            container = self._container()
            for blob in container.list_blobs(include=["metadata"]):
                if (blob.metadata or {}).get(RECORDED) == "true":
                    continue
                if blob.size > MAX_BLOB_BYTES:
                    yield blob.name, []
                    continue
                raw = container.download_blob(blob.name).readall()
                try:
                    doc = bounded_json.loads(raw, max_bytes=MAX_BLOB_BYTES)
                except ValueError:  # not UTF-8, not JSON, or nested past the depth limit
                    doc = []
                events = doc if isinstance(doc, list) else [doc]
                yield blob.name, [e for e in events if isinstance(e, dict)]
        except AzureError as exc:
            raise TransientError(f"dead-letter container unavailable: {exc}") from exc

    def mark_recorded(self, name: str) -> None:
        from azure.core.exceptions import AzureError

        try:
            self._container().get_blob_client(name).set_blob_metadata({RECORDED: "true"})
        except AzureError as exc:
            raise TransientError(f"dead-letter container unavailable: {exc}") from exc
