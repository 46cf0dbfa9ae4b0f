"""Chain-head snapshots in the cell's ``lineage-heads`` container.

In Azure the container has a time-based immutability policy (Terraform): a snapshot blob can be
created but never overwritten or deleted during the retention period. Each snapshot is a new
blob; nothing is ever updated in place.
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.adapters.storage.resources import ensure_created
from shared.domain.errors import TransientError
from shared.domain.lineage.heads import PREFIX, HeadsSnapshot, snapshot_blob_name

CONTAINER = "lineage-heads"


class BlobChainHeads:
    def __init__(self, blob_service: Any, container: str = CONTAINER) -> None:
        self._service = blob_service
        self._name = container

    @property
    def container_name(self) -> str:
        return self._name

    def _container(self) -> Any:
        container = self._service.get_container_client(self._name)
        ensure_created(container.create_container)
        return container

    def latest(self) -> tuple[str, HeadsSnapshot, str] | None:
        """The newest snapshot: (blob name, snapshot, SHA-256 of the blob), None if none yet."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            container = self._service.get_container_client(self._name)
            for blob in container.list_blobs(name_starts_with=PREFIX, results_per_page=1):
                raw = container.download_blob(blob.name).readall()
                return blob.name, HeadsSnapshot.model_validate_json(raw), _sha(raw)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise TransientError(f"lineage-heads container unavailable: {exc}") from exc
        return None

    def write(self, snapshot: HeadsSnapshot) -> str:
        """Create the snapshot's blob (never overwrites); returns its name."""
        from azure.core.exceptions import AzureError
        from azure.storage.blob import ContentSettings

        name = snapshot_blob_name(snapshot.taken_at)
        data = snapshot.model_dump_json().encode("utf-8")
        try:
            self._container().upload_blob(
                name,
                data,
                overwrite=False,
                content_settings=ContentSettings(content_type="application/json"),
                metadata={"sha256": _sha(data), "region": snapshot.region},
            )
        except AzureError as exc:
            raise TransientError(f"cannot write chain-head snapshot {name}: {exc}") from exc
        return name


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
