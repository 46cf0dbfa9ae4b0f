"""Votes racing on the real table (Azurite): the one-transaction vote decides exactly once.

Every approver of a request votes at the same instant from its own thread (a barrier), with
the cell's real approval store, lineage and local bus (its duplicate-detection table); the
bus is wrapped to see every send and whether the bus accepted it. Whatever interleaving
Azurite serialises, a request ends with exactly one decision, one decision record, and (only
when approved) one deployment request accepted by the bus.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shared.composition import Container
from shared.domain.approval.record import Approval, ApprovalState, Refusal
from shared.domain.approval.request import ApprovalRequest
from shared.domain.lineage.record import ArtifactRef, RecordKind
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.approval.requests import ApprovalDeps, VoteResult, cast_vote, open_request
from tests.support.fakes import FakeMailer

pytestmark = pytest.mark.stack
REGION = "westeurope"


@dataclasses.dataclass
class RecordingBus:
    inner: MessageBus
    sends: list[tuple[str, str, bool]] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def send(self, queue: str, message: OutboundMessage) -> bool:
        accepted = self.inner.send(queue, message)
        with self.lock:
            self.sends.append((queue, message.message_id, accepted))
        return accepted

    def deployment_requests(self, approval_id: str) -> list[tuple[str, bool]]:
        with self.lock:
            sends = list(self.sends)
        return [
            (mid, ok) for q, mid, ok in sends if q == DEPLOYMENT_REQUESTS and approval_id in mid
        ]


@pytest.fixture
def deps(cell_container: Callable[[str], Container]) -> ApprovalDeps:
    cell = cell_container(REGION)
    return dataclasses.replace(
        cell.approvals(), mailer=FakeMailer(), bus=RecordingBus(cell.bus), teams=None
    )


def _open(deps: ApprovalDeps, name: str) -> Approval:
    labels = model_labels(name, "1.0.0")
    now = datetime.now(UTC)
    artifact = ArtifactRef(
        kind="image",
        registry="r.example",
        repository=f"models/{name}",
        digest="sha256:" + uuid.uuid4().hex * 2,
    )
    return open_request(
        ApprovalRequest(
            artifact=artifact,
            source_region=REGION,
            metadata=parse_metadata(labels, kind=ArtifactKind.IMAGE),
            event_id=f"e-{uuid.uuid4().hex[:8]}",
            received_at=now,
            validated_at=now,
        ),
        deps,
    )


def _all_at_once(
    deps: ApprovalDeps, approval: Approval, decisions: dict[str, str]
) -> dict[str, VoteResult]:
    barrier = threading.Barrier(len(decisions))
    results: dict[str, VoteResult] = {}
    errors: list[BaseException] = []

    def one(approver: str, decision: str) -> None:
        try:
            barrier.wait(timeout=10)
            reason = "not this one" if decision == "reject" else None
            results[approver] = cast_vote(
                approval.approval_id,
                approver,
                decision,
                reason,
                "signed_link",
                deps,  # type: ignore[arg-type]
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=item) for item in decisions.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def _records(deps: ApprovalDeps, approval: Approval, kind: RecordKind) -> list[object]:
    writer = deps.lineage
    return [
        r
        for r in writer.list_for(approval.artifact.key_hash)  # type: ignore[attr-defined]
        if r.kind is kind and r.correlation.approval_id == approval.approval_id
    ]


@pytest.mark.parametrize("round_", range(4))
def test_approvers_voting_at_once_decide_once_and_deploy_once(
    deps: ApprovalDeps, round_: int
) -> None:
    approval = _open(deps, f"race-{round_}-{uuid.uuid4().hex[:6]}")
    assert len(approval.approvers) >= approval.min_approvals >= 1
    results = _all_at_once(deps, approval, dict.fromkeys(approval.approvers, "approve"))
    final, _, votes = deps.store.snapshot(approval.approval_id)
    assert final.state is ApprovalState.APPROVED and final.dispatched
    counted = [a for a, r in results.items() if r.counted]
    # every counted vote is stored once; a vote not counted was refused because it came after
    # the decision, never lost silently
    assert sorted(v.approver for v in votes) == sorted(counted)
    assert all(r.refusal is Refusal.FINAL for r in results.values() if not r.counted)
    assert len(counted) >= approval.min_approvals
    assert len(_records(deps, approval, RecordKind.APPROVAL_APPROVED)) == 1
    assert len(_records(deps, approval, RecordKind.APPROVAL_VOTE)) == len(counted)
    accepted = [mid for mid, ok in deps.bus.deployment_requests(approval.approval_id) if ok]  # type: ignore[attr-defined]
    assert len(accepted) == 1  # one deployment request reached the queue
    assert set(final.decided_by) <= set(counted)


def test_approve_and_reject_at_once_end_in_one_decision_and_a_rejection_never_deploys(
    deps: ApprovalDeps,
) -> None:
    for _ in range(3):
        approval = _open(deps, f"split-{uuid.uuid4().hex[:6]}")
        first, second = approval.approvers[:2]
        _all_at_once(deps, approval, {first: "approve", second: "reject"})
        final = deps.store.get(approval.approval_id)[0]
        approved = _records(deps, approval, RecordKind.APPROVAL_APPROVED)
        rejected = _records(deps, approval, RecordKind.APPROVAL_REJECTED)
        assert final.state in (ApprovalState.APPROVED, ApprovalState.REJECTED)
        assert len(approved) + len(rejected) == 1  # one terminal decision record
        sent = deps.bus.deployment_requests(approval.approval_id)  # type: ignore[attr-defined]
        if final.state is ApprovalState.REJECTED:
            assert sent == [] and not final.dispatched
        else:
            assert [ok for _, ok in sent].count(True) == 1


def test_a_replayed_vote_counts_once_and_writes_nothing_more(deps: ApprovalDeps) -> None:
    approval = _open(deps, f"replay-{uuid.uuid4().hex[:6]}")
    if approval.min_approvals < 2:
        pytest.skip("needs a quorum of two")
    one = approval.approvers[0]
    first = cast_vote(approval.approval_id, one, "approve", None, "signed_link", deps)
    again = cast_vote(approval.approval_id, one.upper(), "approve", None, "signed_link", deps)
    assert first.counted and not again.counted and again.refusal is Refusal.ALREADY_VOTED
    _, _, votes = deps.store.snapshot(approval.approval_id)
    assert [v.approver for v in votes] == [one]
    assert len(_records(deps, approval, RecordKind.APPROVAL_VOTE)) == 1
    assert deps.store.get(approval.approval_id)[0].state is ApprovalState.PENDING


def test_a_vote_on_a_request_withdrawn_meanwhile_is_refused(deps: ApprovalDeps) -> None:
    """The vote read its snapshot, then the request was withdrawn: the ETag-guarded write
    fails, the vote re-reads, and it is refused as final (nothing approved, nothing sent)."""
    from shared.domain.lineage.record import Reason
    from shared.services.approval.requests import cancel_request

    approval = _open(deps, f"withdrawn-{uuid.uuid4().hex[:6]}")
    stale = deps.store.snapshot(approval.approval_id)
    cancel_request(approval.approval_id, Reason(code="CLR-TEST", message="withdrawn"), deps)
    for approver in approval.approvers:
        result = cast_vote(
            approval.approval_id, approver, "approve", None, "signed_link", deps, snapshot=stale
        )
        assert not result.counted and result.refusal is Refusal.FINAL
    final, _, votes = deps.store.snapshot(approval.approval_id)
    assert final.state is ApprovalState.CANCELLED and votes == []
    assert deps.bus.deployment_requests(approval.approval_id) == []  # type: ignore[attr-defined]
