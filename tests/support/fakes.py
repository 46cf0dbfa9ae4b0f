"""In-memory fakes that implement the ports; tests assert on their state, not on calls."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.domain.approval.record import Approval, ApprovalState, Vote
from shared.domain.errors import TerminalError, TransientError
from shared.domain.intake.ledger import Claim, ClaimState, VersionHolder
from shared.domain.intake.rejection import Rejection
from shared.domain.lineage.record import LineageRecord
from shared.ports.mail import OutboundMail
from shared.ports.messaging import OutboundMessage


@dataclass
class FakeBus:
    sent: list[tuple[str, OutboundMessage]] = field(default_factory=list)
    down: bool = False

    def send(self, queue: str, message: OutboundMessage) -> bool:
        if self.down:
            raise TransientError("bus down")
        if any(q == queue and m.message_id == message.message_id for q, m in self.sent):
            return False
        self.sent.append((queue, message))
        return True


@dataclass
class FakeLineage:
    records: list[LineageRecord] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        if idempotency_key is not None:
            if idempotency_key in self.keys:
                return False
            self.keys.add(idempotency_key)
        self.records.append(record)
        return True

    def append_all(
        self, entries: Sequence[tuple[LineageRecord, str | None]], *, new_chain: bool = False
    ) -> list[bool]:
        return [self.append(record, idempotency_key=key) for record, key in entries]


@dataclass
class FakeMailer:
    sent: list[OutboundMail] = field(default_factory=list)

    def send(self, mail: OutboundMail) -> None:
        self.sent.append(mail)


class FakeLedger:
    def __init__(self) -> None:
        self.artifacts: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, VersionHolder] = {}
        self.events: dict[str, str] = {}
        self._lock = threading.Lock()

    def remember_event(self, event_id: str, content_digest: str) -> str:
        with self._lock:
            return self.events.setdefault(event_id, content_digest)

    def claim(self, key: str, event_id: str, content: str = "") -> Claim:
        with self._lock:
            row = self.artifacts.get(key)
            if row is None or (row["status"] == "claimed" and row["event_id"] == event_id):
                self.artifacts[key] = {
                    "status": "claimed",
                    "event_id": event_id,
                    "content": content,
                    "tags": [],
                }
                return Claim(ClaimState.NEW, event_id=event_id, fresh=row is None)
            if row["status"] == "done":
                return Claim(
                    ClaimState.DONE,
                    row["outcome"],
                    tuple(row["tags"]),
                    event_id=row["event_id"],
                    content=row["content"],
                )
            return Claim(ClaimState.IN_PROGRESS, event_id=row["event_id"])

    def complete(self, key: str, outcome: str, tag: str | None) -> None:
        with self._lock:
            self.artifacts[key].update(status="done", outcome=outcome, tags=[tag] if tag else [])

    def add_tag(self, key: str, tag: str, known: Claim | None = None) -> bool:
        with self._lock:
            tags = self.artifacts[key]["tags"]
            if tag in tags:
                return False
            tags.append(tag)
            return True

    def claim_version(
        self, key: str, digest: str, platform_digests: tuple[str, ...]
    ) -> VersionHolder:
        with self._lock:
            return self.versions.setdefault(key, VersionHolder(digest, platform_digests))


class FakeRegistry:
    """Manifests and blobs by digest; ``unreachable`` simulates a network failure."""

    def __init__(self) -> None:
        self.manifests: dict[str, dict[str, Any]] = {}
        self.blobs: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}
        self.referrers: dict[str, list[dict[str, Any]]] = {}
        self.unreachable = False
        self.requests: list[str] = []

    def add_image(
        self,
        labels: dict[str, str],
        platform: tuple[str, str] = ("linux", "amd64"),
        annotations: dict[str, str] | None = None,
    ) -> str:
        config = json.dumps(
            {"os": platform[0], "architecture": platform[1], "config": {"Labels": labels}}
        ).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        self.blobs[config_digest] = config
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
        if annotations:
            manifest["annotations"] = annotations
        digest = "sha256:" + hashlib.sha256(json.dumps(manifest).encode()).hexdigest()
        self.manifests[digest] = manifest
        return digest

    def add_index(
        self, children: dict[tuple[str, str], str], annotations: dict[str, str] | None = None
    ) -> str:
        """An OCI image index over manifests already added, by platform."""
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": 1,
                    "platform": {"os": os_, "architecture": arch},
                }
                for (os_, arch), digest in children.items()
            ],
        }
        if annotations:
            index["annotations"] = annotations
        digest = "sha256:" + hashlib.sha256(json.dumps(index).encode()).hexdigest()
        self.manifests[digest] = index
        return digest

    def get_manifest(self, login_server: str, repository: str, digest: str) -> dict[str, Any]:
        self.requests.append(f"{login_server}/{repository}@{digest}")
        if self.unreachable:
            raise TransientError("registry unreachable")
        if digest not in self.manifests:
            raise TerminalError(f"{repository}@{digest} does not exist")
        return dict(self.manifests[digest])

    def get_json_blob(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> dict[str, Any]:
        if self.unreachable:
            raise TransientError("registry unreachable")
        data = self.blobs[digest]
        if len(data) > max_bytes:
            raise TerminalError("too large")
        doc: dict[str, Any] = json.loads(data)
        return doc

    # -- SupplyChainReader, and the two client calls shared.local.signing pushes with --------
    def list_referrers(
        self, login_server: str, repository: str, digest: str, *, max_count: int
    ) -> list[dict[str, Any]]:
        if self.unreachable:
            raise TransientError("registry unreachable")
        return [dict(d) for d in self.referrers.get(digest, [])][:max_count]

    def find_tagged_manifest(
        self, login_server: str, repository: str, tag: str, *, max_bytes: int
    ) -> tuple[str, dict[str, Any]] | None:
        if self.unreachable:
            raise TransientError("registry unreachable")
        digest = self.tags.get(tag)
        if digest is None:
            return None
        return digest, dict(self.manifests[digest])

    def get_blob_bytes(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> bytes:
        if self.unreachable:
            raise TransientError("registry unreachable")
        if digest not in self.blobs:
            raise TerminalError(f"blob {digest} does not exist")
        data = self.blobs[digest]
        if len(data) > max_bytes:
            raise TerminalError("too large")
        return data

    def upload_blob(self, repository: str, data: Any) -> tuple[str, int]:
        raw = data.read()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.blobs[digest] = raw
        return digest, len(raw)

    def set_manifest(
        self, repository: str, data: Any, *, tag: str | None = None, media_type: str = ""
    ) -> str:
        raw = data.read()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.manifests[digest] = json.loads(raw)
        if tag:
            self.tags[tag] = digest
        return digest


class FakeRejections:
    """RejectionRegistry in memory: the first rejection of a key is kept."""

    def __init__(self) -> None:
        self.rows: dict[str, Rejection] = {}
        self._lock = threading.Lock()

    def record(self, key: str, rejection: Rejection) -> bool:
        with self._lock:
            return self.rows.setdefault(key, rejection) is rejection

    def find(self, key: str) -> Rejection | None:
        return self.rows.get(key)


class FakeApprovalStore:
    """ApprovalStore in memory with ETags, as the table adapter behaves (thread-safe)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[Approval, int]] = {}
        self.vote_rows: dict[str, list[Vote]] = {}
        self._lock = threading.RLock()
        self.index_rows: set[str] = set()  # the pending index (an approved record: unsent)

    def create(self, approval: Approval) -> tuple[Approval, bool]:
        with self._lock:
            if approval.approval_id in self.rows:
                return self.rows[approval.approval_id][0], False
            self.rows[approval.approval_id] = (approval, 1)
            self.index_rows.add(approval.approval_id)
            return approval, True

    def get(self, approval_id: str) -> tuple[Approval, str]:
        with self._lock:
            if approval_id not in self.rows:
                raise TerminalError(f"no approval {approval_id}")
            approval, etag = self.rows[approval_id]
            return approval, str(etag)

    def replace(self, approval: Approval, etag: str) -> str | None:
        with self._lock:
            current = self.rows.get(approval.approval_id)
            if current is None or str(current[1]) != etag:
                return None
            self.rows[approval.approval_id] = (approval, current[1] + 1)
            if approval.is_final and approval.state is not ApprovalState.APPROVED:
                self.index_rows.discard(approval.approval_id)
            return str(current[1] + 1)

    def snapshot(self, approval_id: str) -> tuple[Approval, str, list[Vote]]:
        with self._lock:
            approval, etag = self.get(approval_id)
            return approval, etag, sorted(self.votes(approval_id), key=lambda v: v.at)

    def settle(self, approval: Approval) -> None:
        with self._lock:
            self.index_rows.discard(approval.approval_id)

    def unsettled(self, approval: Approval) -> bool:
        with self._lock:
            return approval.approval_id in self.index_rows

    def record_vote(self, vote: Vote, approval: Approval, etag: str) -> str | None:
        with self._lock:
            votes = self.vote_rows.get(approval.approval_id, [])
            if any(v.approver == vote.approver for v in votes):
                return None
            written = self.replace(approval, etag)
            if written is not None:
                self.vote_rows.setdefault(approval.approval_id, []).append(vote)
            return written

    def add_vote(self, approval_id: str, vote: Vote) -> bool:
        with self._lock:
            votes = self.vote_rows.setdefault(approval_id, [])
            if any(v.approver == vote.approver for v in votes):
                return False
            votes.append(vote)
            return True

    def votes(self, approval_id: str) -> list[Vote]:
        return list(self.vote_rows.get(approval_id, []))

    def pending_for_model(self, region: str, model: str, *, excluding: str = "") -> list[Approval]:
        return [
            a
            for a, _ in self.rows.values()
            if a.region == region
            and a.metadata.name == model
            and not a.is_final
            and a.approval_id != excluding
        ]
