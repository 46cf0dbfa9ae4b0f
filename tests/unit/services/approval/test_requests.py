"""Opening requests against fakes: supersession follows version order, downgrades are flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import Approval, ApprovalState
from shared.domain.approval.request import ApprovalRequest
from shared.domain.errors import TransientError
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels
from shared.local.stack import LocalStack, StackPorts
from shared.ports.mail import OutboundMail
from shared.ports.messaging import OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.approval.messages import facts, teams_card
from shared.services.approval.requests import ApprovalDeps, cast_vote, open_request
from shared.settings import load_catalog
from tests.support.fakes import FakeApprovalStore, FakeBus, FakeLineage, FakeMailer

REPO = Path(__file__).resolve().parents[4]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def deps(tmp_path: Path) -> ApprovalDeps:
    catalog = load_catalog(json.dumps(LocalStack(tmp_path, REPO, ports=StackPorts()).catalog()))
    return ApprovalDeps(
        cell=catalog.region("westeurope"),
        store=FakeApprovalStore(),
        lineage=FakeLineage(),
        bus=FakeBus(),
        mailer=FakeMailer(),
        signer=LinkSigner({"k1": b"0" * 32}),
        clock=Clock(),
    )


def request(version: str, notes: tuple[str, ...] = (), **extra: str) -> ApprovalRequest:
    metadata = parse_metadata(model_labels(version=version, extra=extra), kind=ArtifactKind.IMAGE)
    return ApprovalRequest(
        artifact=ArtifactRef(
            kind="image", registry="r.example", repository="models/fraud", digest=f"d-{version}"
        ),
        source_region="westeurope",
        metadata=metadata,
        event_id=f"e-{version}",
        received_at=T0,
        validated_at=T0,
        notes=notes,
    )


def state(deps: ApprovalDeps, approval: Approval) -> ApprovalState:
    return deps.store.get(approval.approval_id)[0].state


def test_a_higher_version_supersedes_a_pending_lower_one(deps: ApprovalDeps) -> None:
    old = open_request(request("1.4.9"), deps)
    new = open_request(request("1.7.0"), deps)
    assert state(deps, old) is ApprovalState.SUPERSEDED
    assert state(deps, new) is ApprovalState.PENDING and new.notes == ()


def test_a_lower_version_never_supersedes_a_higher_pending_one(deps: ApprovalDeps) -> None:
    high = open_request(request("1.7.0"), deps)
    low = open_request(request("1.4.9"), deps)
    assert state(deps, high) is ApprovalState.PENDING
    assert state(deps, low) is ApprovalState.PENDING
    (note,) = low.notes
    assert note.startswith("Downgrade: 1.4.9 is lower than 1.7.0")
    # what approvers see: the card and the review page/mail facts lead with it
    assert facts(low, None)[0] == ("Attention", note)
    card = json.dumps(teams_card(low, "https://x.example/review", None))
    assert "Downgrade" in card


def test_a_hotfix_or_rollback_may_replace_a_higher_pending_version(deps: ApprovalDeps) -> None:
    high = open_request(request("1.7.0"), deps)
    fix = open_request(request("1.4.9", **{"ai.clearance.version.intent": "hotfix"}), deps)
    assert state(deps, high) is ApprovalState.SUPERSEDED
    assert "marked hotfix" in fix.notes[0]
    assert ("Version intent", "hotfix") in facts(fix, None)


def test_a_downgrade_from_the_live_version_is_flagged(deps: ApprovalDeps) -> None:
    from tests.unit.domain.approval.test_view import _live

    deps.live_revision = lambda region, model: _live("2.0.0")
    low = open_request(request("1.9.0"), deps)
    assert low.notes == ("Downgrade: 1.9.0 is lower than 2.0.0, which is live.",)


def test_versions_without_an_order_keep_arrival_order(deps: ApprovalDeps) -> None:
    old = open_request(request("build-a"), deps)
    open_request(request("1.0.0"), deps)
    assert state(deps, old) is ApprovalState.SUPERSEDED


def test_intake_notes_reach_the_request(deps: ApprovalDeps) -> None:
    opened = open_request(request("2.0.1", notes=("Tag/version mismatch: x",)), deps)
    assert opened.notes == ("Tag/version mismatch: x",)


# -- the deciding vote: order of effects -------------------------------------------------------
class Journal:
    """One log of what the bus, the mailer and the checkpoint hook saw, in order."""

    def __init__(self, mail_down: bool = False) -> None:
        self.events: list[str] = []
        self.mail_down = mail_down

    def bus(self) -> FakeBus:
        journal = self

        class Bus(FakeBus):
            def send(self, queue: str, message: OutboundMessage) -> bool:
                journal.events.append(f"bus {queue}")
                return super().send(queue, message)

        return Bus()

    def mailer(self) -> FakeMailer:
        journal = self

        class Mailer(FakeMailer):
            def send(self, mail: OutboundMail) -> None:
                journal.events.append(f"mail {mail.subject}")
                if journal.mail_down:
                    raise TransientError("smtp down")
                super().send(mail)

        return Mailer()


def _decide(deps: ApprovalDeps, journal: Journal) -> Approval:
    approval = open_request(request("1.0.0"), deps)
    deps.bus, deps.mailer = journal.bus(), journal.mailer()
    deps.after_decision = lambda key_hash: journal.events.append(f"checkpoint {key_hash}")
    deps.platform_email = "platform@contoso.example"  # the owner's mail goes somewhere
    for approver in approval.approvers[: approval.min_approvals]:
        result = cast_vote(approval.approval_id, approver, "approve", None, "signed_link", deps)
        assert result.counted
    return deps.store.get(approval.approval_id)[0]


def test_the_deployment_request_goes_before_any_mail_and_the_checkpoint_after(
    deps: ApprovalDeps,
) -> None:
    journal = Journal()
    decided = _decide(deps, journal)
    assert decided.state is ApprovalState.APPROVED and decided.dispatched
    assert journal.events[0] == f"bus {DEPLOYMENT_REQUESTS}"
    assert [e.split(" ")[0] for e in journal.events] == ["bus", "mail", "checkpoint"]
    assert journal.events[-1] == f"checkpoint {decided.artifact.key_hash}"  # the decided chain


def test_a_mail_failure_neither_blocks_nor_repeats_the_deployment_request(
    deps: ApprovalDeps,
) -> None:
    journal = Journal(mail_down=True)
    decided = _decide(deps, journal)  # the vote still succeeds
    assert decided.state is ApprovalState.APPROVED and decided.dispatched
    one = decided.approvers[0]
    again = cast_vote(decided.approval_id, one, "approve", None, "signed_link", deps)
    assert not again.counted  # a retry after the failed mail is refused, nothing re-sent
    sent = [e for e in journal.events if e.startswith("bus")]
    assert sent == [f"bus {DEPLOYMENT_REQUESTS}"]


class CallLog:
    """The store, with a log of which of its methods the service called."""

    def __init__(self, store: object) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        method = getattr(self._store, name)

        def logged(*args: object, **kwargs: object) -> object:
            self.calls.append(name)
            return method(*args, **kwargs)

        return logged


def test_a_vote_reads_the_record_once_and_the_decision_is_one_write(deps: ApprovalDeps) -> None:
    approval = open_request(request("1.0.0"), deps)
    log = CallLog(deps.store)
    deps.store = log  # type: ignore[assignment]
    first, second = approval.approvers[:2]
    cast_vote(approval.approval_id, first, "approve", None, "signed_link", deps)
    assert log.calls == ["snapshot", "record_vote"]
    log.calls.clear()
    cast_vote(approval.approval_id, second, "approve", None, "signed_link", deps)
    # one read, the vote with the decision, the pending row dropped once the request is sent
    assert log.calls == ["snapshot", "record_vote", "settle"]


def test_a_deployment_request_that_did_not_leave_is_sent_by_the_next_touch_only(
    deps: ApprovalDeps,
) -> None:
    from shared.services.approval.requests import expire_request

    approval = open_request(request("1.0.0"), deps)
    bus = FakeBus(down=True)
    deps.bus = bus
    first, second = approval.approvers[:2]
    cast_vote(approval.approval_id, first, "approve", None, "signed_link", deps)
    with pytest.raises(TransientError):  # the bus is down when the quorum is reached
        cast_vote(approval.approval_id, second, "approve", None, "signed_link", deps)
    decided = deps.store.get(approval.approval_id)[0]
    assert decided.state is ApprovalState.APPROVED and deps.store.unsettled(decided)
    bus.down = False
    retry = cast_vote(approval.approval_id, second, "approve", None, "signed_link", deps)
    assert not retry.counted  # the retried vote is not counted twice, but it sends
    assert [q for q, _ in bus.sent] == [DEPLOYMENT_REQUESTS]
    assert not deps.store.unsettled(decided)
    expire_request(approval.approval_id, deps)  # a later touch: nothing is sent again
    cast_vote(approval.approval_id, first, "approve", None, "signed_link", deps)
    assert [q for q, _ in bus.sent] == [DEPLOYMENT_REQUESTS]


def test_a_vote_whose_process_stopped_before_its_records_gets_them_on_the_retry(
    deps: ApprovalDeps,
) -> None:
    approval = open_request(request("1.0.0"), deps)
    lineage = deps.lineage
    assert isinstance(lineage, FakeLineage)
    first, second = approval.approvers[:2]
    cast_vote(approval.approval_id, first, "approve", None, "signed_link", deps)

    class Stops(FakeLineage):
        def append_all(self, entries: object) -> list[bool]:
            raise TransientError("the process stopped here")

    deps.lineage = Stops()
    with pytest.raises(TransientError):  # the vote and the decision are committed, no records
        cast_vote(approval.approval_id, second, "approve", "ok", "signed_link", deps)
    deps.lineage = lineage
    # the retry (the approver posts again, even with another decision) is refused, but
    # completes what was missing from the stored vote, and sends the deployment request
    retry = cast_vote(approval.approval_id, second, "reject", "no", "signed_link", deps)
    assert not retry.counted
    kinds = [r.kind.value for r in lineage.records]
    assert kinds.count("approval.vote") == 2 and kinds.count("approval.approved") == 1
    votes = [r for r in lineage.records if r.kind.value == "approval.vote"]
    assert votes[-1].details["decision"] == "approve"  # the stored vote, not the retry's
    sent = [q for q, _ in deps.bus.sent]  # type: ignore[attr-defined]
    assert sent.count(DEPLOYMENT_REQUESTS) == 1
    again = cast_vote(approval.approval_id, second, "approve", None, "signed_link", deps)
    assert not again.counted and len(lineage.records) == len(kinds)  # nothing twice
