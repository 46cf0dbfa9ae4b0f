"""Approvals: the record store and the Teams channel."""

from __future__ import annotations

from typing import Any, Protocol

from shared.domain.approval.record import (
    Approval,
    Vote,
)


class ApprovalStore(Protocol):
    def create(self, approval: Approval) -> tuple[Approval, bool]: ...
    def get(self, approval_id: str) -> tuple[Approval, str]: ...
    def replace(self, approval: Approval, etag: str) -> str | None:
        """The record's new ETag, or None when it changed since ``etag``."""
        ...

    def add_vote(self, approval_id: str, vote: Vote) -> bool: ...
    def votes(self, approval_id: str) -> list[Vote]: ...
    def pending_for_model(
        self, region: str, model: str, *, excluding: str = ""
    ) -> list[Approval]: ...
    def snapshot(self, approval_id: str) -> tuple[Approval, str, list[Vote]]:
        """The record, its ETag and its votes, read together (one request)."""
        ...

    def record_vote(self, vote: Vote, approval: Approval, etag: str) -> str | None:
        """Atomically: insert the vote (once per approver) and replace the record if it still
        has ``etag``. The new ETag, or None (changed meanwhile, or already voted)."""
        ...

    def settle(self, approval: Approval) -> None:
        """An approved record's deployment request was sent: drop its pending index row."""
        ...

    def unsettled(self, approval: Approval) -> bool:
        """Whether the record's pending index row is still there."""
        ...


class Teams(Protocol):
    def post(self, payload: dict[str, Any]) -> None: ...
