"""The cell's status read from its own storage: a few cheap queries, for a timer and the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.adapters.storage.approvals import TABLE as APPROVALS
from shared.adapters.storage.deployment_state import TableDeploymentStateStore
from shared.adapters.storage.lineage.heads_blobs import CONTAINER as HEADS
from shared.domain.approval.record import Approval
from shared.domain.deploy.state import DeploymentState
from shared.domain.errors import TransientError
from shared.domain.lineage.heads import PREFIX
from shared.queues import ALL_QUEUES, dead_letter_queue

_INVERT = 10**13  # checkpoint names start with inverted milliseconds: newest first


class StorageStatusSource:
    def __init__(
        self, region: str, table_service: Any, blob_service: Any, queue_service: Any | None
    ) -> None:
        self._region = region
        self._tables, self._blobs, self._queues = table_service, blob_service, queue_service

    def pending_approvals(self) -> Sequence[Approval]:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        client = self._tables.get_table_client(APPROVALS)
        try:
            rows = list(
                client.query_entities("RowKey eq 'approval' and State eq 'pending'", select=["Doc"])
            )
        except ResourceNotFoundError:
            return []
        except AzureError as exc:
            raise TransientError(f"approvals unavailable: {exc}") from exc
        found = []
        for row in rows:
            try:
                found.append(Approval.model_validate_json(row["Doc"]))
            except (KeyError, ValueError):
                continue  # an edited row: not counted, never a crash
        return found

    def deployments(self) -> Sequence[DeploymentState]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return TableDeploymentStateStore(self._tables).list_region(self._region)
        except ResourceNotFoundError:
            return []

    def dead_letter_depths(self) -> Mapping[str, int]:
        """Messages waiting in each queue's dead-letter queue (local bus: storage queues; on
        Service Bus the namespace's DeadletteredMessages metric is the figure)."""
        if self._queues is None:
            return {}
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        depths = {}
        for queue in ALL_QUEUES:
            client = self._queues.get_queue_client(dead_letter_queue(queue))
            try:
                depths[queue] = int(client.get_queue_properties().approximate_message_count or 0)
            except ResourceNotFoundError:
                depths[queue] = 0
            except AzureError as exc:
                raise TransientError(f"queue {queue} unavailable: {exc}") from exc
        return depths

    def last_checkpoint_at(self) -> datetime | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        container = self._blobs.get_container_client(HEADS)
        try:
            for blob in container.list_blobs(name_starts_with=PREFIX, results_per_page=1):
                stem = str(blob.name).removeprefix(PREFIX).split("-", 1)[0]
                try:
                    millis = _INVERT - int(stem)
                except ValueError:
                    continue  # not a checkpoint name
                return datetime.fromtimestamp(millis / 1000, UTC)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise TransientError(f"lineage heads unavailable: {exc}") from exc
        return None
