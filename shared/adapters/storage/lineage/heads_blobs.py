"""Signed checkpoints in the cell's ``lineage-heads`` container.

In Azure the container has version-level immutability (Terraform): a blob can be created but
never overwritten or deleted during the retention period. It does not stop anyone who can
write the account from adding blobs, which is why each checkpoint is signed and nothing here
decides what a blob is: this adapter only lists and reads bytes (``trail`` judges them).

Blobs never change once written, so contents are cached per (container, name, ETag): a
long-lived host reads each checkpoint once, and an overwrite (where immutability is off)
changes the ETag and is read again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.adapters.storage.resources import ensure_created
from shared.domain.errors import TransientError
from shared.domain.lineage.heads import MAX_BLOB, PREFIX

CONTAINER = "lineage-heads"
_CACHE_LIMIT = 20_000
_cache: dict[tuple[str, str, str], bytes] = {}
_lock = threading.Lock()


class BlobCheckpoints:
    def __init__(self, blob_service: Any, container: str = CONTAINER, workers: int = 8) -> None:
        self._service = blob_service
        self._name = container
        self._workers = workers

    @property
    def container_name(self) -> str:
        return self._name

    def _container(self) -> Any:
        return self._service.get_container_client(self._name)

    def blobs(self) -> Iterator[tuple[str, bytes]]:
        """Every blob under ``heads/`` with its content (an oversized blob reads as empty)."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        container = self._container()
        scope = getattr(container, "url", self._name)
        try:
            listed = [
                (b.name, str(b.etag), int(b.size or 0))
                for b in container.list_blobs(name_starts_with=PREFIX)
            ]
        except ResourceNotFoundError:
            return iter(())
        except AzureError as exc:
            raise TransientError(f"lineage-heads container unavailable: {exc}") from exc

        def read(item: tuple[str, str, int]) -> tuple[str, bytes]:
            name, etag, size = item
            if size > MAX_BLOB:
                return name, b""
            key = (scope, name, etag)
            with _lock:
                cached = _cache.get(key)
            if cached is not None:
                return name, cached
            try:
                data: bytes = container.download_blob(name).readall()
            except ResourceNotFoundError:
                return name, b""
            except AzureError as exc:
                raise TransientError(f"cannot read checkpoint {name}: {exc}") from exc
            with _lock:
                if len(_cache) >= _CACHE_LIMIT:
                    _cache.clear()
                _cache[key] = data
            return name, data

        with _lock:
            fresh = sum((scope, name, etag) not in _cache for name, etag, _ in listed)
        if fresh <= 1:  # all but at most one already read: no pool to start
            return iter([read(item) for item in listed])
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            return iter(list(pool.map(read, listed)))

    def names(self) -> list[str]:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return [b.name for b in self._container().list_blobs(name_starts_with=PREFIX)]
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            raise TransientError(f"lineage-heads container unavailable: {exc}") from exc

    def read(self, name: str) -> bytes:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            blob = self._container().get_blob_client(name)
            if int(blob.get_blob_properties().size or 0) > MAX_BLOB:
                return b""
            data: bytes = blob.download_blob().readall()
        except ResourceNotFoundError:
            return b""
        except AzureError as exc:
            raise TransientError(f"cannot read checkpoint {name}: {exc}") from exc
        return data

    def create(self, name: str, data: bytes) -> None:
        """Create the checkpoint's blob (never overwrites): one request; the container is
        created only when the upload finds none (the first checkpoint, or one deleted)."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError
        from azure.storage.blob import ContentSettings

        container = self._container()

        def upload() -> None:
            container.upload_blob(
                name,
                data,
                overwrite=False,
                content_settings=ContentSettings(content_type="application/json"),
            )

        try:
            try:
                upload()
            except ResourceNotFoundError:
                ensure_created(container.create_container)
                upload()
        except AzureError as exc:
            raise TransientError(f"cannot write checkpoint {name}: {exc}") from exc
