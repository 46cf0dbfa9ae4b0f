"""ApprovalStore over Azure Table Storage: the record with ETag concurrency, votes as rows.

Partition = approval id: the record (``RowKey=approval``) and one row per vote
(``RowKey=vote-<hash of approver>``, conditional insert: a replayed vote is counted once).
Pending requests per (region, model) are indexed in partition ``model|<region>|<model>`` so a
newer version finds what it supersedes without a scan. The row goes when the record is final
and nothing is left to do: at once for a rejected, expired, superseded or cancelled request;
for an approved one when its deployment request was sent (``settle``), so the row doubles as
the outbox mark of an approved record whose deployment request may not have left yet.

A vote costs two requests here: ``snapshot`` (one query of the approval's partition: the
record with its ETag and every vote) and ``record_vote`` (one entity-group transaction: the
conditional insert of the vote row and the ETag-guarded replace of the record, decided or
not). Every vote moves the record's ETag, so two votes read from the same snapshot cannot both
commit: the loser re-reads and counts the winner's vote (exactly one decision).
"""

from __future__ import annotations

import hashlib
from typing import Any

from shared.adapters.storage.resources import LazyTable
from shared.adapters.telemetry.context import parse_traceparent
from shared.adapters.telemetry.spans import current_traceparent, note_approval
from shared.domain.approval.record import Approval, ApprovalState, Vote
from shared.domain.errors import TerminalError, TransientError

TABLE = "approvals"


def _vote_key(approver: str) -> str:
    return "vote-" + hashlib.sha256(approver.encode("utf-8")).hexdigest()[:40]


def _done(approval: Approval) -> bool:
    """Final with nothing left to send (an approved record waits for ``settle``)."""
    return approval.is_final and approval.state is not ApprovalState.APPROVED


def _is_vote_row(row_key: str) -> bool:
    return row_key.startswith("vote-")


def _index_pk(region: str, model: str) -> str:
    return f"model|{region}|{model}"


class TableApprovalStore:
    def __init__(self, table_service: Any) -> None:
        self._client = LazyTable(table_service, TABLE)
        # approval id -> the trace it was opened in (kept across a read-then-replace)
        self._traces: dict[str, str] = {}

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from azure.core.exceptions import (
            AzureError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )

        try:
            return fn(*args, **kwargs)
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            raise
        except AzureError as exc:
            raise TransientError(f"approval store unavailable: {exc}") from exc

    def create(self, approval: Approval) -> tuple[Approval, bool]:
        from azure.core.exceptions import ResourceExistsError

        entity = {
            "PartitionKey": approval.approval_id,
            "RowKey": "approval",
            "State": str(approval.state),
            "Doc": approval.model_dump_json(),
        }
        trace = current_traceparent()
        if trace is not None:
            entity["Traceparent"] = trace  # the review continues the artifact's trace
        try:
            self._call(self._client().create_entity, entity)
        except ResourceExistsError:
            return self.get(approval.approval_id)[0], False
        self._call(
            self._client().upsert_entity,
            {
                "PartitionKey": _index_pk(approval.region, approval.metadata.name),
                "RowKey": approval.approval_id,
                "Version": approval.metadata.version,
            },
        )
        return approval, True

    def get(self, approval_id: str) -> tuple[Approval, str]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self._call(self._client().get_entity, approval_id, "approval")
        except ResourceNotFoundError as exc:
            raise TerminalError(f"no approval {approval_id}") from exc
        approval = Approval.model_validate_json(row["Doc"])
        self._remember_trace(approval_id, row.get("Traceparent"))
        note_approval(approval)
        return approval, str(row.metadata["etag"])

    def _remember_trace(self, approval_id: str, trace: object) -> None:
        if isinstance(trace, str) and parse_traceparent(trace) is not None:
            if len(self._traces) > 1024:
                self._traces.clear()
            self._traces[approval_id] = trace

    def traceparent(self, approval_id: str) -> str | None:
        """The trace the approval was opened in (None for an unknown or untraced approval)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            row = self._call(
                self._client().get_entity, approval_id, "approval", select=["Traceparent"]
            )
        except (ResourceNotFoundError, TransientError, ValueError):
            return None
        trace = row.get("Traceparent")
        self._remember_trace(approval_id, trace)
        return trace if isinstance(trace, str) else None

    def replace(self, approval: Approval, etag: str) -> str | None:
        """Optimistic concurrency: the new ETag, or None when someone else changed the record
        first. The pending index row goes when the record becomes final (an approved record
        keeps it until ``settle``)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError
        from azure.data.tables import UpdateMode

        entity = {
            "PartitionKey": approval.approval_id,
            "RowKey": "approval",
            "State": str(approval.state),
            "Doc": approval.model_dump_json(),
        }
        if approval.approval_id in self._traces:
            entity["Traceparent"] = self._traces[approval.approval_id]
        try:
            written = self._call(
                self._client().update_entity,
                entity,
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            return None
        if _done(approval):
            self._drop_index(approval)
        return str((written or {}).get("etag") or "") or self.get(approval.approval_id)[1]

    def settle(self, approval: Approval) -> None:
        """The approved record's deployment request was sent: its pending index row goes."""
        self._drop_index(approval)

    def unsettled(self, approval: Approval) -> bool:
        """Whether the record's pending index row is still there (for an approved record: its
        deployment request may not have been sent)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._call(
                self._client().get_entity,
                _index_pk(approval.region, approval.metadata.name),
                approval.approval_id,
            )
        except ResourceNotFoundError:
            return False
        return True

    def snapshot(self, approval_id: str) -> tuple[Approval, str, list[Vote]]:
        """The record, its ETag and its votes, in one query of the approval's partition."""
        rows = self._call(
            lambda: list(
                self._client().query_entities("PartitionKey eq @pk", parameters={"pk": approval_id})
            )
        )
        record = next((r for r in rows if r["RowKey"] == "approval"), None)
        if record is None:
            raise TerminalError(f"no approval {approval_id}")
        votes = [Vote.model_validate_json(r["Doc"]) for r in rows if _is_vote_row(r["RowKey"])]
        approval = Approval.model_validate_json(record["Doc"])
        self._remember_trace(approval_id, record.get("Traceparent"))
        note_approval(approval)
        return approval, str(record.metadata["etag"]), sorted(votes, key=lambda v: v.at)

    def record_vote(self, vote: Vote, approval: Approval, etag: str) -> str | None:
        """Insert ``vote`` and replace the record (``approval``: decided or unchanged) in one
        transaction, if the record still has ``etag``. The record's new ETag, or None when the
        record changed meanwhile or this approver's vote row exists (re-read to tell)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError
        from azure.data.tables import TableTransactionError, UpdateMode

        vote_row = {
            "PartitionKey": approval.approval_id,
            "RowKey": _vote_key(vote.approver),
            "Doc": vote.model_dump_json(),
        }
        record = {
            "PartitionKey": approval.approval_id,
            "RowKey": "approval",
            "State": str(approval.state),
            "Doc": approval.model_dump_json(),
        }
        if approval.approval_id in self._traces:  # a replace keeps the trace it was opened in
            record["Traceparent"] = self._traces[approval.approval_id]
        ops: list[Any] = [
            ("create", vote_row),
            (
                "update",
                record,
                {
                    "mode": UpdateMode.REPLACE,
                    "etag": etag,
                    "match_condition": MatchConditions.IfNotModified,
                },
            ),
        ]
        try:
            results = self._client().submit_transaction(ops)
        except TableTransactionError as exc:
            if exc.status_code in (409, 412):
                return None
            raise TransientError(f"approval store refused the vote: {exc}") from exc
        except AzureError as exc:
            raise TransientError(f"approval store unavailable: {exc}") from exc
        if _done(approval):
            self._drop_index(approval)
        new_etag = str(results[1].get("etag") or "") if len(results) > 1 else ""
        return new_etag or self.get(approval.approval_id)[1]

    def _drop_index(self, approval: Approval) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._call(
                self._client().delete_entity,
                _index_pk(approval.region, approval.metadata.name),
                approval.approval_id,
            )
        except ResourceNotFoundError:
            return

    def add_vote(self, approval_id: str, vote: Vote) -> bool:
        from azure.core.exceptions import ResourceExistsError

        entity = {
            "PartitionKey": approval_id,
            "RowKey": _vote_key(vote.approver),
            "Doc": vote.model_dump_json(),
        }
        try:
            self._call(self._client().create_entity, entity)
        except ResourceExistsError:
            return False
        return True

    def votes(self, approval_id: str) -> list[Vote]:
        rows = self._call(
            lambda: list(
                self._client().query_entities(
                    "PartitionKey eq @pk and RowKey ge 'vote-' and RowKey lt 'vote.'",
                    parameters={"pk": approval_id},
                )
            )
        )
        return sorted((Vote.model_validate_json(r["Doc"]) for r in rows), key=lambda v: v.at)

    def pending_for_model(self, region: str, model: str, *, excluding: str = "") -> list[Approval]:
        """Pending requests of the model (``excluding`` one the caller holds: not read)."""
        rows = self._call(
            lambda: list(
                self._client().query_entities(
                    "PartitionKey eq @pk", parameters={"pk": _index_pk(region, model)}
                )
            )
        )
        found = []
        for row in rows:
            if row["RowKey"] == excluding:
                continue
            approval = self.get(row["RowKey"])[0]
            if not approval.is_final:
                found.append(approval)
        return found
