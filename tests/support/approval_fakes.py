"""In-memory approval store and directory implementing their ports."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.approval.record import Approval, ApprovalState, Vote
from shared.domain.errors import TerminalError
from shared.ports.directory import DirectoryError, DirectoryUser
from shared.ports.mail import HeldMail


class FakeApprovalStore:
    def __init__(self) -> None:
        self.records: dict[str, tuple[Approval, int]] = {}
        self.vote_rows: dict[str, dict[str, Vote]] = {}
        self._lock = threading.RLock()
        self.index_rows: set[str] = set()  # the pending index (an approved record: unsent)

    def create(self, approval: Approval) -> tuple[Approval, bool]:
        with self._lock:
            if approval.approval_id in self.records:
                return self.records[approval.approval_id][0], False
            self.records[approval.approval_id] = (approval, 1)
            self.index_rows.add(approval.approval_id)
            return approval, True

    def get(self, approval_id: str) -> tuple[Approval, str]:
        if approval_id not in self.records:
            raise TerminalError(f"no approval {approval_id}")
        approval, version = self.records[approval_id]
        return approval, str(version)

    def replace(self, approval: Approval, etag: str) -> str | None:
        with self._lock:
            _, version = self.records[approval.approval_id]
            if str(version) != etag:
                return None
            self.records[approval.approval_id] = (approval, version + 1)
            if approval.is_final and approval.state is not ApprovalState.APPROVED:
                self.index_rows.discard(approval.approval_id)
            return str(version + 1)

    def snapshot(self, approval_id: str) -> tuple[Approval, str, list[Vote]]:
        with self._lock:
            approval, etag = self.get(approval_id)
            return approval, etag, self.votes(approval_id)

    def settle(self, approval: Approval) -> None:
        with self._lock:
            self.index_rows.discard(approval.approval_id)

    def unsettled(self, approval: Approval) -> bool:
        with self._lock:
            return approval.approval_id in self.index_rows

    def record_vote(self, vote: Vote, approval: Approval, etag: str) -> str | None:
        with self._lock:
            if vote.approver in self.vote_rows.get(approval.approval_id, {}):
                return None
            written = self.replace(approval, etag)
            if written is not None:
                self.vote_rows.setdefault(approval.approval_id, {})[vote.approver] = vote
            return written

    def add_vote(self, approval_id: str, vote: Vote) -> bool:
        with self._lock:
            rows = self.vote_rows.setdefault(approval_id, {})
            if vote.approver in rows:
                return False
            rows[vote.approver] = vote
            return True

    def votes(self, approval_id: str) -> list[Vote]:
        return sorted(self.vote_rows.get(approval_id, {}).values(), key=lambda v: v.at)

    def pending_for_model(self, region: str, model: str, *, excluding: str = "") -> list[Approval]:
        return [
            a
            for a, _ in self.records.values()
            if a.region == region
            and a.metadata.name == model
            and not a.is_final
            and a.approval_id != excluding
        ]


@dataclass
class FakeDirectory:
    groups: dict[str, list[DirectoryUser]] = field(default_factory=dict)
    down: bool = False

    def list_group_members(self, group_id: str) -> list[DirectoryUser]:
        if self.down:
            raise DirectoryError("directory down")
        return list(self.groups.get(group_id.lower(), []))

    def member_groups(self, object_id: str, group_ids: Sequence[str]) -> list[str]:
        if self.down:
            raise DirectoryError("directory down")
        return [
            g
            for g in group_ids
            if any(u.object_id == object_id for u in self.groups.get(g.lower(), []))
        ]


def principal_header(
    object_id: str | None, mail: str | None = None, tenant_id: str | None = None
) -> str:
    """An Easy Auth X-MS-CLIENT-PRINCIPAL header, as App Service Authentication sends it."""
    claims = []
    if object_id:
        claims.append(
            {
                "typ": "http://schemas.microsoft.com/identity/claims/objectidentifier",
                "val": object_id,
            }
        )
    if tenant_id:
        claims.append(
            {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": tenant_id}
        )
    if mail:
        claims.append({"typ": "preferred_username", "val": mail})
    doc = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(doc).encode()).decode()


class FakeDigestStore:
    def __init__(self) -> None:
        self.windows: dict[str, datetime] = {}
        self.held: dict[str, list[HeldMail]] = {}
        self._lock = threading.Lock()

    def open_window(self, address: str, now: datetime) -> bool:
        with self._lock:
            if address in self.windows:
                return False
            self.windows[address] = now
            return True

    def hold(self, address: str, held: HeldMail, now: datetime) -> None:
        self.held.setdefault(address, []).append(held)

    def due(self, opened_before: datetime) -> list[tuple[str, list[HeldMail]]]:
        return [
            (a, list(self.held.get(a, []))) for a, t in self.windows.items() if t < opened_before
        ]

    def close(self, address: str) -> None:
        self.windows.pop(address, None)
        self.held.pop(address, None)
