"""The invariant end to end over fakes: a rejected artifact (by its digest or through an index
that contains it) has no open approval request and no deployment, whatever order the registry's
events arrive in, however often they are delivered."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import ApprovalState, Refusal, approval_id_for
from shared.domain.approval.request import ApprovalRequest
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import ArtifactRef, RecordKind
from shared.local.samples import model_labels
from shared.local.stack import SAMPLE_APPROVERS, LocalStack, StackPorts
from shared.queues import APPROVAL_REQUESTS
from shared.services.approval.requests import ApprovalDeps, cast_vote, open_request
from shared.services.deploy.rollouts import DeployOutcome
from shared.services.intake.binding import IncomingEvent
from shared.services.intake.handlers import IntakeDeps, handle_image_pushed
from shared.settings import load_catalog
from tests.support import deploy_samples as s
from tests.support.deploy_world import World
from tests.support.fakes import (
    FakeApprovalStore,
    FakeBus,
    FakeLedger,
    FakeLineage,
    FakeMailer,
    FakeRegistry,
    FakeRejections,
)

REPO = Path(__file__).resolve().parents[4]
AMD64, ARM64 = ("linux", "amd64"), ("linux", "arm64")


class FakeTeams:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def post(self, payload: dict[str, Any]) -> None:
        self.posts.append(payload)


class Cell:
    """One cell's intake and approvals sharing one rejection registry, as in Azure."""

    def __init__(self, tmp_path: Path) -> None:
        self.catalog = load_catalog(
            json.dumps(LocalStack(tmp_path, REPO, ports=StackPorts()).catalog())
        )
        self.rejections = FakeRejections()
        self.lineage = FakeLineage()
        self.mailer = FakeMailer()
        self.registry = FakeRegistry()
        self.intake_bus = FakeBus()
        self.teams = FakeTeams()
        self.approvals = ApprovalDeps(
            cell=self.catalog.region("westeurope"),
            store=FakeApprovalStore(),
            lineage=self.lineage,
            bus=FakeBus(),
            mailer=self.mailer,
            signer=LinkSigner({"k1": b"0" * 32}),
            teams=self.teams,
            rejections=self.rejections,
        )
        self.intake = IntakeDeps(
            region="westeurope",
            catalog=self.catalog,
            registry=self.registry,
            ledger=FakeLedger(),
            lineage=self.lineage,
            bus=self.intake_bus,
            mailer=self.mailer,
            rejections=self.rejections,
            withdraw=self._withdraw,
        )

    def _withdraw(self, approval_id: str, reason: Any) -> object:
        from shared.services.approval.requests import cancel_request

        return cancel_request(approval_id, reason, self.approvals)

    @property
    def login(self) -> str:
        return self.catalog.region("westeurope").registry.login_server

    def push(self, digest: str, *, tag: str | None = None, event_id: str | None = None) -> Any:
        data = {
            "id": "x",
            "action": "push",
            "location": "westeurope",
            "target": {"digest": digest, "repository": "models/fraud", "size": 1}
            | ({"tag": tag} if tag else {}),
            "request": {"id": "r", "host": self.login, "method": "PUT", "useragent": "skopeo"},
        }
        event = IncomingEvent(
            id=event_id or f"ev-{digest[-8:]}-{tag}",
            type="Microsoft.ContainerRegistry.ImagePushed",
            source="/x",
            subject="models/fraud",
            time=None,
            data=data,
            schema="eventgrid",
        )
        return handle_image_pushed(event, self.intake)

    def deliver_requests(self) -> None:
        """The approval-requests queue delivers what intake sent (in order)."""
        for queue, message in self.intake_bus.sent:
            if queue == APPROVAL_REQUESTS:
                open_request(ApprovalRequest.model_validate_json(message.body), self.approvals)

    def approval(self, digest: str) -> Any:
        ref = ArtifactRef(
            kind="image", registry=self.login, repository="models/fraud", digest=digest
        )
        return self.approvals.store.get(approval_id_for(ref, "westeurope"))[0]

    def split_index(self) -> tuple[str, str, str]:
        amd64 = self.registry.add_image(model_labels(), AMD64)
        arm64 = self.registry.add_image(model_labels(risk_tier="high"), ARM64)
        return amd64, arm64, self.registry.add_index({AMD64: amd64, ARM64: arm64})


@pytest.fixture
def cell(tmp_path: Path) -> Cell:
    return Cell(tmp_path)


def test_children_first_split_label_index_withdraws_the_open_child_request(cell: Cell) -> None:
    amd64, arm64, index = cell.split_index()
    # skopeo copy --all: each platform manifest by digest, then the index under its tag
    assert cell.push(amd64).kind is RecordKind.APPROVAL_REQUESTED
    cell.deliver_requests()
    assert cell.approval(amd64).state is ApprovalState.PENDING
    assert cell.push(arm64).kind is RecordKind.ARTIFACT_SKIPPED
    outcome = cell.push(index, tag="1.0.0")

    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert {r.code for r in outcome.reasons} == {IntakeCode.INTAKE_PLATFORM_LABELS}
    child = cell.approval(amd64)
    assert child.state is ApprovalState.CANCELLED
    assert index in (child.decision_reason or "")
    (cancelled,) = [r for r in cell.lineage.records if r.kind is RecordKind.APPROVAL_CANCELLED]
    assert cancelled.reasons[0].code == IntakeCode.INTAKE_INDEX_REJECTED
    withdrawn = [m for m in cell.mailer.sent if "withdrawn" in m.text]
    assert withdrawn and set(SAMPLE_APPROVERS) <= set(withdrawn[0].to)
    (title, *_) = cell.teams.posts[-1]["attachments"][0]["content"]["body"]
    assert title["text"].startswith("Withdrawn: fraud")
    # an approver who still has the link cannot approve it
    vote = cast_vote(
        child.approval_id, SAMPLE_APPROVERS[0], "approve", None, "signed_link", cell.approvals
    )
    assert vote.refusal is Refusal.FINAL and not vote.counted


def test_the_arm64_skip_says_what_is_approved(cell: Cell) -> None:
    _, arm64, _ = cell.split_index()
    cell.push(arm64)
    (skipped,) = [r for r in cell.lineage.records if r.kind is RecordKind.ARTIFACT_SKIPPED]
    assert "linux/amd64 manifest is approved" in skipped.details["reason"]
    assert "approved through its index" not in skipped.details["reason"]


def test_index_first_then_child_refuses_the_child(cell: Cell) -> None:
    amd64, _, index = cell.split_index()
    cell.push(index, tag="1.0.0")
    outcome = cell.push(amd64)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert [r.code for r in outcome.reasons] == [IntakeCode.INTAKE_INDEX_REJECTED]
    assert not [m for q, m in cell.intake_bus.sent if q == APPROVAL_REQUESTS]


def test_a_late_approval_message_for_a_withdrawn_child_opens_cancelled(cell: Cell) -> None:
    amd64, _, index = cell.split_index()
    cell.push(amd64)  # request sent, not yet delivered by the queue
    cell.push(index, tag="1.0.0")  # rejected: nothing to withdraw yet
    before = len(cell.mailer.sent)
    cell.deliver_requests()  # the queue delivers the child's request late
    assert cell.approval(amd64).state is ApprovalState.CANCELLED
    assert not [m for m in cell.mailer.sent[before:] if "approve" in m.subject.lower()]


def test_duplicated_and_reordered_deliveries_never_reopen_the_child(cell: Cell) -> None:
    amd64, arm64, index = cell.split_index()
    for digest, tag in [(amd64, None), (index, "1.0.0"), (amd64, None), (arm64, None)]:
        cell.push(digest, tag=tag)
        cell.push(digest, tag=tag)  # every delivery twice
        cell.deliver_requests()
    cell.push(index, tag="1.0.0", event_id="another-event")
    assert cell.approval(amd64).state is ApprovalState.CANCELLED
    cancelled = [r for r in cell.lineage.records if r.kind is RecordKind.APPROVAL_CANCELLED]
    assert len(cancelled) == 1


def test_a_quorum_reached_after_the_rejection_cancels_instead(cell: Cell) -> None:
    amd64, _, index = cell.split_index()
    cell.push(amd64)
    cell.deliver_requests()
    cell.intake.withdraw = None  # the withdrawal was lost (instance died after recording)
    cell.push(index, tag="1.0.0")
    approval_id = cell.approval(amd64).approval_id
    for approver in SAMPLE_APPROVERS:
        cast_vote(approval_id, approver, "approve", None, "signed_link", cell.approvals)
    assert cell.approval(amd64).state is ApprovalState.CANCELLED
    assert not cell.approvals.bus.sent or all(
        q != "deployment-requests" for q, _ in cell.approvals.bus.sent
    )


def _deploy_world(cell: Cell, digest: str, strategy: str) -> tuple[World, DeploymentRequest]:
    world = World(cell.catalog.region("westeurope"))
    world.deps.rejections = cell.rejections
    request = s.image_request(world.cell, s.image_metadata(strategy, "1.0.0"), digest=digest)
    request = request.model_copy(
        update={"artifact": request.artifact.model_copy(update={"repository": "models/fraud"})}
    )
    return world, request


def test_the_deployer_refuses_a_rejected_artifact(cell: Cell) -> None:
    amd64, _, index = cell.split_index()
    cell.push(index, tag="1.0.0")
    world, request = _deploy_world(cell, amd64, "rolling")
    assert world.run(request) == [DeployOutcome.FAILED]
    (failed,) = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_FAILED]
    assert failed.reasons[0].code == DeployCode.ARTIFACT_REJECTED
    assert world.cluster.applied == []


def test_a_rejection_during_a_canary_stops_the_next_step(cell: Cell) -> None:
    amd64, _, index = cell.split_index()
    world, request = _deploy_world(cell, amd64, "canary")
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "0.9.0")))
    world.delivered = len(world.bus.sent)
    assert world.deliver(request) == DeployOutcome.STEPPED
    cell.push(index, tag="1.0.0")  # the index's rejection lands between two steps
    outcomes = world.drain()
    assert outcomes[-1] == DeployOutcome.FAILED
    state = world.state()
    assert state.rollout is None
    assert state.live is None or state.live.identity != amd64
    kinds = [r.kind for r in world.lineage.records]
    assert RecordKind.DEPLOYMENT_ROLLED_BACK in kinds
    assert kinds.count(RecordKind.DEPLOYMENT_SUCCEEDED) == 1  # the 0.9.0 one only


def test_the_review_page_of_a_withdrawn_request_says_why(cell: Cell) -> None:
    from shared.services.approval.review_page import decided

    amd64, _, index = cell.split_index()
    cell.push(amd64)
    cell.deliver_requests()
    cell.push(index, tag="1.0.0")
    page = decided(cell.approval(amd64))
    assert "<strong>cancelled</strong>" in page
    assert "Withdrawn: This image is part of the image index" in page


def test_a_fixed_index_over_a_rejected_platform_image_is_refused_and_says_why(
    cell: Cell,
) -> None:
    """The owner fixes only the arm64 labels and pushes again with the same version: the amd64
    image is the one of the rejected index, so the new index may not deploy it either."""
    amd64, _, index = cell.split_index()
    cell.push(amd64)
    cell.push(index, tag="1.0.0")
    arm64_fixed = cell.registry.add_image(model_labels(), ARM64)
    fixed = cell.registry.add_index({AMD64: amd64, ARM64: arm64_fixed})
    outcome = cell.push(fixed, tag="1.0.0")
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    (reason,) = outcome.reasons
    assert reason.code == IntakeCode.INTAKE_INDEX_REJECTED
    assert f"platform image {amd64}" in reason.message and index in reason.message
    assert "new version" in reason.message


def _race(*steps: Any) -> None:
    """Run ``steps`` at the same time, one thread each; re-raise what any of them raised."""
    import threading

    barrier = threading.Barrier(len(steps))
    errors: list[BaseException] = []

    def run(step: Any) -> None:
        try:
            barrier.wait(timeout=5)
            step()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == []


def test_a_request_opening_while_its_index_is_rejected_always_ends_cancelled(
    tmp_path: Path,
) -> None:
    """The approval-requests consumer and the index's intake run at the same time, on two
    instances: whichever writes first, the child's request never stays open."""
    for attempt in range(25):
        cell = Cell(tmp_path / str(attempt))
        amd64, _, index = cell.split_index()
        cell.push(amd64)
        _race(cell.deliver_requests, partial(cell.push, index, tag="1.0.0"))
        assert cell.approval(amd64).state is ApprovalState.CANCELLED, attempt


def test_a_rejected_index_reaches_an_open_request_of_an_earlier_index_over_the_same_image(
    cell: Cell,
) -> None:
    """An index approved-to-be (request open) shares its amd64 image with an index rejected
    later: the amd64 image is rejected through that index, so the open index may neither be
    approved nor deploy it. The request chain carries the index's platform digests for that."""
    amd64 = cell.registry.add_image(model_labels(), AMD64)
    arm64 = cell.registry.add_image(model_labels(), ARM64)
    good = cell.registry.add_index({AMD64: amd64, ARM64: arm64})
    assert cell.push(good, tag="1.0.0").kind is RecordKind.APPROVAL_REQUESTED
    cell.deliver_requests()
    opened = cell.approval(good)
    assert set(opened.platform_digests) == {amd64, arm64}
    split = cell.registry.add_index(
        {AMD64: amd64, ARM64: cell.registry.add_image(model_labels(risk_tier="high"), ARM64)}
    )
    assert cell.push(split, tag="1.0.0-split").kind is RecordKind.ARTIFACT_REJECTED
    for approver in SAMPLE_APPROVERS:
        cast_vote(opened.approval_id, approver, "approve", None, "signed_link", cell.approvals)
    assert cell.approval(good).state is not ApprovalState.APPROVED
    assert all(q != "deployment-requests" for q, _ in cell.approvals.bus.sent)
    # a deployment request already on its way (dispatched before the rejection) is refused
    world, request = _deploy_world(cell, good, "rolling")
    request = request.model_copy(update={"platform_digests": opened.platform_digests})
    assert world.run(request) == [DeployOutcome.FAILED]
    assert world.cluster.applied == []


def test_the_platform_image_of_a_rejected_index_copied_to_another_repository_is_refused(
    cell: Cell,
) -> None:
    """``skopeo copy docker://reg/models/fraud@<amd64> docker://reg/models/fraud-copy:1.0.0``:
    the same bytes under another repository were a new artifact, requested for approval."""
    amd64, _, index = cell.split_index()
    cell.push(index, tag="1.0.0")
    data = {
        "id": "x",
        "action": "push",
        "location": "westeurope",
        "target": {"digest": amd64, "repository": "models/fraud-copy", "size": 1, "tag": "1.0.0"},
        "request": {"id": "r", "host": cell.login, "method": "PUT", "useragent": "skopeo"},
    }
    event = IncomingEvent(
        id="copy",
        type="Microsoft.ContainerRegistry.ImagePushed",
        source="/x",
        subject="models/fraud-copy",
        time=None,
        data=data,
        schema="eventgrid",
    )
    outcome = handle_image_pushed(event, cell.intake)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert [r.code for r in outcome.reasons] == [IntakeCode.INTAKE_INDEX_REJECTED]
    world, request = _deploy_world(cell, amd64, "rolling")
    copied = request.artifact.model_copy(update={"repository": "models/fraud-copy"})
    assert world.run(request.model_copy(update={"artifact": copied})) == [DeployOutcome.FAILED]


# -- rejections already read (the claim's partition read brings the own rejection row) -------
_IMAGE = ArtifactRef(kind="image", registry="r.example", repository="models/m", digest="sha256:a")


def _on_record(key: str) -> FakeRejections:
    from shared.domain.intake.rejection import Rejection

    registry = FakeRejections()
    registry.record(key, Rejection("image|r.example|models/x|sha256:b", ("X",), "e1", "sha256:b"))
    return registry


def test_an_own_rejection_already_read_is_not_read_again() -> None:
    from shared.services.intake.invariant import refusal

    # the registry has one now, but the caller's read (before it was written) said none:
    # the caller's read decides for the own key (the consumer checks again later)
    registry = _on_record(_IMAGE.key)
    assert refusal(registry, _IMAGE, (), {_IMAGE.key: None}) is None
    assert refusal(registry, _IMAGE) is not None  # nothing known: read


def test_an_own_rejection_read_with_the_claim_refuses() -> None:
    from shared.domain.intake.rejection import Rejection
    from shared.services.intake.invariant import refusal

    known = {_IMAGE.key: Rejection(_IMAGE.key, ("LABEL_MISSING",), "e0")}
    reason = refusal(FakeRejections(), _IMAGE, (), known)
    assert reason is not None and reason.code == IntakeCode.INTAKE_INDEX_REJECTED


def test_knowing_the_own_rejection_still_reads_the_content_and_the_children() -> None:
    from shared.services.intake.invariant import refusal

    content = _on_record(f"image-content|r.example|{_IMAGE.digest}")
    assert refusal(content, _IMAGE, (), {_IMAGE.key: None}) is not None
    index = _IMAGE.model_copy(update={"digest": "sha256:index"})
    child = _IMAGE.model_copy(update={"digest": "sha256:c"})
    children = _on_record(child.key)
    assert refusal(children, index, ("sha256:c",), {index.key: None}) is not None


def test_a_request_left_open_behind_a_deleted_ledger_row_is_never_approvable(cell: Cell) -> None:
    """A first claim's rejection does not read the artifact's approval to withdraw it (only
    intake opens requests, after its claim). An insider who deletes the ledger row of an
    artifact whose request is open, then gets the next delivery rejected, leaves that request
    pending, but it can be neither approved nor deployed: the rejection is on record."""
    digest = cell.registry.add_image(model_labels())
    assert cell.push(digest, tag="1.0.0").kind is RecordKind.APPROVAL_REQUESTED
    cell.deliver_requests()
    approval = cell.approval(digest)
    assert approval.state is ApprovalState.PENDING
    ref = ArtifactRef(kind="image", registry=cell.login, repository="models/fraud", digest=digest)
    del cell.intake.ledger.artifacts[ref.key]  # behind the app's back
    config = cell.registry.manifests[digest]["config"]["digest"]
    edited = json.loads(cell.registry.blobs[config])
    del edited["config"]["Labels"]["ai.clearance.risk-tier"]
    cell.registry.blobs[config] = json.dumps(edited).encode()

    outcome = cell.push(digest, tag="1.0.0", event_id="after-the-edit")

    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert cell.rejections.find(ref.key) is not None
    assert cell.approval(digest).state is ApprovalState.PENDING  # not withdrawn: not read
    for approver in SAMPLE_APPROVERS:  # the quorum's vote finds the rejection
        cast_vote(approval.approval_id, approver, "approve", None, "signed_link", cell.approvals)
    assert cell.approval(digest).state is ApprovalState.CANCELLED
    assert all(q != "deployment-requests" for q, _ in cell.approvals.bus.sent)
    world, request = _deploy_world(cell, digest, "rolling")
    assert world.run(request) == [DeployOutcome.FAILED]
    assert world.cluster.applied == []


def test_a_rejection_after_a_takeover_still_withdraws_the_open_request(cell: Cell) -> None:
    """A claim that is not the first (a retry taking over its own claim) cannot know that no
    request was opened: it reads and withdraws."""
    digest = cell.registry.add_image(model_labels(risk_tier="bogus"))
    ref = ArtifactRef(kind="image", registry=cell.login, repository="models/fraud", digest=digest)
    approval_id = approval_id_for(ref, "westeurope")
    cell.intake.ledger.artifacts[ref.key] = {
        "status": "claimed",
        "event_id": "ev-retried",
        "content": "",
        "tags": [],
    }
    withdrawn: list[str] = []
    cell.intake.withdraw = lambda aid, reason: withdrawn.append(aid)

    outcome = cell.push(digest, tag="1.0.0", event_id="ev-retried")

    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert withdrawn == [approval_id]
