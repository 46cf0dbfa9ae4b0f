"""LineageWriter over Azure Table Storage: one row per record, in the region's own account."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from shared.adapters.storage_resources import ensure_created
from shared.domain.errors import TransientError
from shared.domain.lineage import LineageRecord

TABLE = "lineage"


class TableLineageWriter:
    def __init__(self, table_service: Any) -> None:
        self._service = table_service
        self._table: Any = None

    def _client(self) -> Any:
        if self._table is None:
            table = self._service.get_table_client(TABLE)
            ensure_created(table.create_table)
            self._table = table
        return self._table

    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        from azure.core.exceptions import AzureError
        from azure.data.tables import TableTransactionError

        pk = record.artifact.key_hash
        entity = {
            "PartitionKey": pk,
            "RowKey": f"r-{record.at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}",
            "Kind": str(record.kind),
            "At": record.at,
            "Region": record.region,
            "EventId": record.correlation.event_id or "",
            "Record": record.model_dump_json(),
        }
        operations: list[tuple[str, dict[str, Any]]] = [("create", entity)]
        if idempotency_key is not None:
            marker = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
            # same partition: record and marker commit atomically, or not at all
            operations.insert(0, ("create", {"PartitionKey": pk, "RowKey": f"idem-{marker}"}))
        try:
            self._client().submit_transaction(operations)
        except TableTransactionError as exc:
            if idempotency_key is not None and "EntityAlreadyExists" in str(exc):
                return False
            raise TransientError(f"lineage store refused the record: {exc}") from exc
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc
        return True

    def list_for(self, artifact_key_hash: str) -> list[LineageRecord]:
        rows = self._client().query_entities(
            "PartitionKey eq @pk", parameters={"pk": artifact_key_hash}
        )
        return [LineageRecord.model_validate_json(r["Record"]) for r in rows if "Record" in r]

    def list_all(self) -> list[LineageRecord]:
        rows = self._client().list_entities()
        return [LineageRecord.model_validate_json(r["Record"]) for r in rows if "Record" in r]
