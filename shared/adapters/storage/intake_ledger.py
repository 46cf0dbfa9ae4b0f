"""IntakeLedger over Azure Table Storage: conditional inserts decide who owns an artifact."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.storage.resources import LazyTable
from shared.domain.errors import TransientError
from shared.domain.intake.ledger import Claim, ClaimState, VersionHolder
from shared.domain.intake.rejection import Rejection

TABLE = "intakeledger"
LEASE = timedelta(minutes=5)
MAX_RETRIES = 8


def _pk(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _tags(row: Any) -> list[str]:
    """The row's tags; a value edited into something else reads as no tags (never a crash)."""
    try:
        tags = json.loads(row.get("Tags") or "[]")
    except ValueError:
        return []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _claim_partition(table: Any, key: str) -> tuple[Any | None, Rejection | None]:
    """The claim row and the own rejection row of ``key``: one query of one small partition
    (a point read each before; both rows share the partition ``_pk(key)``)."""
    pk = _pk(key)  # hex digits only: safe to put in the filter as it is
    rows = table.query_entities(
        f"PartitionKey eq '{pk}' and (RowKey eq 'artifact' or RowKey eq 'rejection')"
    )
    claim, rejection = None, None
    for row in rows:
        if row.get("RowKey") == "artifact":
            claim = row
        elif row.get("RowKey") == "rejection":
            rejection = _rejection(row, key)
    return claim, rejection


def _rejection(row: Any, key: str) -> Rejection:
    """A rejection row; one edited behind the app's back still refuses (only its absence
    clears an artifact)."""
    try:
        codes = json.loads(row.get("Codes") or "[]")
    except ValueError:
        codes = []
    return Rejection(
        rejected=str(row.get("Rejected") or key),
        codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
        event_id=str(row.get("EventId") or ""),
        via_index=str(row.get("ViaIndex") or "") or None,
    )


class TableIntakeLedger:
    def __init__(self, table_service: Any) -> None:
        self._client = LazyTable(table_service, TABLE)

    def claim(self, key: str, event_id: str, content: str = "") -> Claim:
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            AzureError,
            ResourceExistsError,
            ResourceModifiedError,
        )
        from azure.data.tables import UpdateMode

        now = datetime.now(UTC)
        entity = {
            "PartitionKey": _pk(key),
            "RowKey": "artifact",
            "Key": key,
            "Status": "claimed",
            "EventId": event_id,
            "Content": content,
            "ClaimedAt": now,
            "Tags": "[]",
        }
        try:
            table = self._client()
            # Read first: most deliveries are duplicates of a handled artifact (one round trip,
            # and an exact redelivery of a completed event stops there). The same read brings
            # the artifact's own rejection row (same partition), which validation needs later.
            existing, rejection = _claim_partition(table, key)
            if existing is None:
                try:
                    table.create_entity(entity)
                    return Claim(
                        ClaimState.NEW,
                        event_id=event_id,
                        content=content,
                        fresh=True,
                        rejection_read=True,
                        rejection=rejection,
                    )
                except ResourceExistsError:  # another instance claimed it meanwhile
                    existing, rejection = _claim_partition(table, key)
                    if existing is None:  # claimed and deleted at once: let the platform retry
                        raise TransientError(f"intake claim of {key!r} vanished") from None
            tags = tuple(_tags(existing))
            holder = str(existing.get("EventId") or "") or None
            held_content = str(existing.get("Content") or "") or None
            version = str(existing.metadata.get("etag") or "") or None
            if existing.get("Status") == "done":
                outcome = existing.get("Outcome")
                return Claim(
                    ClaimState.DONE,
                    outcome,
                    tags,
                    holder,
                    held_content,
                    False,
                    version,
                    rejection_read=True,
                    rejection=rejection,
                )
            claimed_at = existing.get("ClaimedAt")
            stale = not isinstance(claimed_at, datetime) or now - claimed_at > LEASE
            if holder != event_id and not stale:
                return Claim(
                    ClaimState.IN_PROGRESS,
                    None,
                    tags,
                    holder,
                    held_content,
                    rejection_read=True,
                    rejection=rejection,
                )
            try:  # a retry of the same event, or an abandoned claim: take it over
                table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                if holder == event_id:
                    # Another delivery of this same event took it over just now. Both go on:
                    # every step is idempotent per event (lineage markers, the bus's message
                    # id), and neither may conclude "duplicate" for the event it is.
                    return Claim(
                        ClaimState.NEW,
                        event_id=event_id,
                        content=content,
                        rejection_read=True,
                        rejection=rejection,
                    )
                return Claim(
                    ClaimState.IN_PROGRESS,
                    None,
                    tags,
                    holder,
                    held_content,
                    rejection_read=True,
                    rejection=rejection,
                )
            return Claim(
                ClaimState.NEW,
                event_id=event_id,
                content=content,
                rejection_read=True,
                rejection=rejection,
            )
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc

    def complete(self, key: str, outcome: str, tag: str | None) -> None:
        from azure.core.exceptions import AzureError
        from azure.data.tables import UpdateMode

        tags = [tag] if tag else []
        try:
            self._client().update_entity(
                {
                    "PartitionKey": _pk(key),
                    "RowKey": "artifact",
                    "Status": "done",
                    "Outcome": outcome,
                    "Tags": json.dumps(tags),
                },
                mode=UpdateMode.MERGE,
            )
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc

    def add_tag(self, key: str, tag: str, known: Claim | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        seen = (list(known.tags), known.version) if known and known.version else None
        try:
            for _ in range(MAX_RETRIES):
                if seen is None:
                    existing = self._client().get_entity(_pk(key), "artifact")
                    seen = (_tags(existing), str(existing.metadata["etag"]))
                tags, etag = seen
                seen = None
                if tag in tags:
                    return False
                try:
                    self._client().update_entity(
                        {
                            "PartitionKey": _pk(key),
                            "RowKey": "artifact",
                            "Tags": json.dumps([*tags, tag]),
                        },
                        mode=UpdateMode.MERGE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                    return True
                except ResourceModifiedError:
                    continue  # another delivery added a tag meanwhile: read and try again
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc
        raise TransientError(f"too much contention adding tag {tag!r}")

    def claim_version(
        self, key: str, digest: str, platform_digests: tuple[str, ...]
    ) -> VersionHolder:
        from azure.core.exceptions import AzureError, ResourceExistsError

        entity = {
            "PartitionKey": _pk(key),
            "RowKey": "version",
            "Key": key,
            "Digest": digest,
            "Platforms": json.dumps(list(platform_digests)),
        }
        try:
            try:
                self._client().create_entity(entity)
                return VersionHolder(digest, platform_digests)
            except ResourceExistsError:
                existing = self._client().get_entity(_pk(key), "version")
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc
        return VersionHolder(
            str(existing["Digest"]), tuple(json.loads(existing.get("Platforms") or "[]"))
        )

    def remember_event(self, event_id: str, content_digest: str) -> str:
        from azure.core.exceptions import AzureError, ResourceExistsError

        key = f"event|{event_id}"
        entity = {
            "PartitionKey": _pk(key),
            "RowKey": "event",
            "Key": key,
            "Content": content_digest,
        }
        try:
            try:
                self._client().create_entity(entity)
                return content_digest
            except ResourceExistsError:
                existing = self._client().get_entity(_pk(key), "event")
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc
        return str(existing.get("Content") or "")


class TableRejectionRegistry:
    """Rejections in the intake ledger's table (row ``rejection``), first one wins."""

    def __init__(self, table_service: Any) -> None:
        self._client = LazyTable(table_service, TABLE)

    def record(self, key: str, rejection: Rejection) -> bool:
        from azure.core.exceptions import AzureError, ResourceExistsError

        entity = {
            "PartitionKey": _pk(key),
            "RowKey": "rejection",
            "Key": key,
            "Rejected": rejection.rejected,
            "Codes": json.dumps(list(rejection.codes)),
            "EventId": rejection.event_id,
            "ViaIndex": rejection.via_index or "",
        }
        try:
            self._client().create_entity(entity)
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc
        return True

    def find(self, key: str) -> Rejection | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            row = self._client().get_entity(_pk(key), "rejection")
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise TransientError(f"intake ledger unavailable: {exc}") from exc
        return _rejection(row, key)
