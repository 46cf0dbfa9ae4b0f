"""The intake service against fakes of its ports: outcomes, idempotency and error typing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.domain.errors import TransientError
from shared.domain.lineage.record import INTAKE_TERMINAL, RecordKind
from shared.local.samples import model_labels
from shared.local.stack import LocalStack, StackPorts
from shared.queues import APPROVAL_REQUESTS
from shared.services.intake.binding import IncomingEvent
from shared.services.intake.handlers import IntakeDeps, handle_image_pushed, handle_model_registered
from shared.settings import load_catalog
from tests.support.fakes import FakeBus, FakeLedger, FakeLineage, FakeMailer, FakeRegistry

REPO = Path(__file__).resolve().parents[4]
LABELS = model_labels()


@pytest.fixture
def deps(tmp_path: Path) -> IntakeDeps:
    catalog = load_catalog(json.dumps(LocalStack(tmp_path, REPO, ports=StackPorts()).catalog()))
    return IntakeDeps(
        region="westeurope",
        catalog=catalog,
        registry=FakeRegistry(),
        ledger=FakeLedger(),
        lineage=FakeLineage(),
        bus=FakeBus(),
        mailer=FakeMailer(),
        platform_email="platform@contoso.example",
    )


def pushed(
    deps: IntakeDeps,
    digest: str,
    *,
    tag: str | None = "1.0.0",
    event_id: str = "e1",
    host: str | None = None,
) -> IncomingEvent:
    login = host or deps.catalog.region("westeurope").registry.login_server
    target: dict[str, Any] = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "repository": "models/fraud",
        "size": 1,
    }
    if tag:
        target["tag"] = tag
    data = {
        "id": "x",
        "action": "push",
        "location": "westeurope",
        "target": target,
        "request": {"id": "r", "host": login, "method": "PUT", "useragent": "t"},
    }
    return IncomingEvent(
        id=event_id,
        type="Microsoft.ContainerRegistry.ImagePushed",
        source="/x",
        subject="models/fraud:1.0.0",
        time=None,
        data=data,
        schema="eventgrid",
    )


def terminal(deps: IntakeDeps) -> list[RecordKind]:
    return [r.kind for r in deps.lineage.records if r.kind in INTAKE_TERMINAL]


def test_valid_image_sends_one_request_with_a_stable_message_id(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image(LABELS)
    outcome = handle_image_pushed(pushed(deps, digest), deps)
    assert outcome.kind is RecordKind.APPROVAL_REQUESTED
    ((queue, message),) = deps.bus.sent
    assert queue == APPROVAL_REQUESTS
    assert message.message_id == outcome.approval_message_id
    assert json.loads(message.body)["artifact"]["digest"] == digest


def test_malformed_event_is_rejected_once_and_never_retried(deps: IntakeDeps) -> None:
    event = pushed(deps, "not-a-digest")
    outcome = handle_image_pushed(event, deps)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert {r.code for r in outcome.reasons} == {"CLR-EVENT-MALFORMED"}
    handle_image_pushed(event, deps)  # Event Grid redelivers the same event
    assert terminal(deps) == [RecordKind.ARTIFACT_REJECTED]


def test_manifest_that_does_not_exist_is_unreadable(deps: IntakeDeps) -> None:
    outcome = handle_image_pushed(pushed(deps, "sha256:" + "0" * 64), deps)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert outcome.reasons[0].code == "CLR-EVENT-UNREADABLE"
    assert deps.mailer.sent[0].to == ("platform@contoso.example",)


def test_registry_outage_is_transient_and_the_retry_finishes_once(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image(LABELS)
    deps.registry.unreachable = True
    with pytest.raises(TransientError):
        handle_image_pushed(pushed(deps, digest), deps)
    assert terminal(deps) == []
    deps.registry.unreachable = False
    assert handle_image_pushed(pushed(deps, digest), deps).kind is RecordKind.APPROVAL_REQUESTED
    assert terminal(deps) == [RecordKind.APPROVAL_REQUESTED]


def test_bus_outage_is_transient_and_nothing_is_lost(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image(LABELS)
    deps.bus.down = True
    with pytest.raises(TransientError):
        handle_image_pushed(pushed(deps, digest), deps)
    deps.bus.down = False
    handle_image_pushed(pushed(deps, digest), deps)
    assert len(deps.bus.sent) == 1
    assert terminal(deps) == [RecordKind.APPROVAL_REQUESTED]


def test_same_version_with_other_content_is_refused(deps: IntakeDeps) -> None:
    first = deps.registry.add_image(LABELS)
    second = deps.registry.add_image(dict(LABELS, **{"ai.clearance.team": "other"}))
    handle_image_pushed(pushed(deps, first, event_id="a"), deps)
    outcome = handle_image_pushed(pushed(deps, second, event_id="b"), deps)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert outcome.reasons[0].code == "CLR-INTAKE-VERSION-REUSED"


def test_untagged_then_tagged_is_one_request_and_a_retag(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image(LABELS)
    handle_image_pushed(pushed(deps, digest, tag=None, event_id="a"), deps)
    handle_image_pushed(pushed(deps, digest, tag="1.0.0", event_id="b"), deps)
    handle_image_pushed(pushed(deps, digest, tag="1.0.0", event_id="c"), deps)
    assert terminal(deps) == [
        RecordKind.APPROVAL_REQUESTED,
        RecordKind.ARTIFACT_RETAGGED,
        RecordKind.ARTIFACT_DUPLICATE,
    ]
    assert len(deps.bus.sent) == 1


def test_foreign_registry_is_refused_without_any_registry_request(deps: IntakeDeps) -> None:
    outcome = handle_image_pushed(pushed(deps, "sha256:" + "1" * 64, host="evil.example.com"), deps)
    assert outcome.reasons[0].code == "CLR-INTAKE-UNKNOWN-REGISTRY"
    assert deps.registry.requests == []


def test_other_event_types_are_ignored_without_records(deps: IntakeDeps) -> None:
    event = pushed(deps, "sha256:" + "1" * 64)
    ignored = IncomingEvent(**{**event.__dict__, "type": "Microsoft.ContainerRegistry.ChartPushed"})
    assert handle_image_pushed(ignored, deps).kind is None
    assert handle_model_registered(ignored, deps).kind is None
    assert deps.lineage.records == []


class FlakyLineage(FakeLineage):
    """Commits the record, then fails (as an index write after the chain append can)."""

    fail_next: bool = False

    def append(self, record: Any, *, idempotency_key: str | None = None) -> bool:
        written = super().append(record, idempotency_key=idempotency_key)
        if self.fail_next:
            self.fail_next = False
            raise TransientError("index write failed after the record")
        return written


def test_a_retry_after_a_partial_failure_keeps_one_terminal_record(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image(LABELS)
    handle_image_pushed(pushed(deps, digest, tag=None, event_id="a"), deps)
    deps.lineage = FlakyLineage(records=deps.lineage.records, keys=deps.lineage.keys)
    deps.lineage.fail_next = True
    with pytest.raises(TransientError):  # retag recorded, then the store failed
        handle_image_pushed(pushed(deps, digest, tag="1.0.0", event_id="b"), deps)
    handle_image_pushed(pushed(deps, digest, tag="1.0.0", event_id="b"), deps)  # the retry
    finals = [r for r in deps.lineage.records if r.kind in INTAKE_TERMINAL]
    assert [(r.correlation.event_id, r.kind) for r in finals] == [
        ("a", RecordKind.APPROVAL_REQUESTED),
        ("b", RecordKind.ARTIFACT_RETAGGED),
    ]


def test_a_tag_naming_another_version_is_flagged_not_silent(deps: IntakeDeps) -> None:
    from shared.domain.approval.request import ApprovalRequest

    digest = deps.registry.add_image(model_labels(version="2.0.1"))
    handle_image_pushed(pushed(deps, digest, tag="2.0.0"), deps)
    (message,) = [m for q, m in deps.bus.sent if q == APPROVAL_REQUESTS]
    (note,) = ApprovalRequest.model_validate_json(message.body).notes
    assert "tag 2.0.0" in note and "says 2.0.1" in note


@pytest.mark.parametrize("tag", ["2.0.1", "v2.0.1", "latest", "prod"])
def test_a_tag_that_agrees_or_is_not_a_version_is_not_flagged(deps: IntakeDeps, tag: str) -> None:
    from shared.domain.approval.request import ApprovalRequest

    digest = deps.registry.add_image(model_labels(version="2.0.1"))
    handle_image_pushed(pushed(deps, digest, tag=tag), deps)
    (message,) = [m for q, m in deps.bus.sent if q == APPROVAL_REQUESTS]
    assert ApprovalRequest.model_validate_json(message.body).notes == ()


def test_same_event_id_with_other_content_is_recorded_not_dropped(deps: IntakeDeps) -> None:
    from shared.domain.intake.codes import IntakeCode
    from shared.services.intake.handlers import content_digest

    digest = deps.registry.add_image(LABELS)
    first, second = pushed(deps, digest, tag="1.0.0"), pushed(deps, digest, tag="1.0.1")
    handle_image_pushed(first, deps)
    outcome = handle_image_pushed(second, deps)  # same id "e1", another tag
    assert outcome.kind is RecordKind.ARTIFACT_RETAGGED
    (conflict,) = [r for r in deps.lineage.records if r.kind is RecordKind.ARTIFACT_EVENT_CONFLICT]
    assert conflict.reasons[0].code == IntakeCode.EVENT_CONFLICT
    assert conflict.details["first_content"] == content_digest(first)
    assert conflict.details["this_content"] == content_digest(second)
    assert conflict.correlation.event_id == "e1"
    assert terminal(deps) == [RecordKind.APPROVAL_REQUESTED, RecordKind.ARTIFACT_RETAGGED]
    # a plain redelivery of either is a duplicate, with no second conflict record
    handle_image_pushed(second, deps)
    handle_image_pushed(first, deps)
    kinds = [r.kind for r in deps.lineage.records]
    assert kinds.count(RecordKind.ARTIFACT_EVENT_CONFLICT) == 1


def test_labels_given_only_as_manifest_annotations_are_read(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image({}, annotations=LABELS)
    assert handle_image_pushed(pushed(deps, digest), deps).kind is RecordKind.APPROVAL_REQUESTED


def test_annotations_and_labels_may_agree_but_not_conflict(deps: IntakeDeps) -> None:
    from shared.domain.intake.codes import IntakeCode

    agree = deps.registry.add_image(LABELS, annotations={"ai.clearance.owner": LABELS[
        "ai.clearance.owner"]})  # fmt: skip
    assert handle_image_pushed(pushed(deps, agree), deps).kind is RecordKind.APPROVAL_REQUESTED
    clash = deps.registry.add_image(
        model_labels(version="1.0.1"), annotations={"ai.clearance.risk-tier": "high"}
    )
    outcome = handle_image_pushed(pushed(deps, clash, event_id="e2", tag="1.0.1"), deps)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    (reason,) = outcome.reasons
    assert reason.code == IntakeCode.META_SOURCE_CONFLICT
    assert reason.field == "ai.clearance.risk-tier"
    assert "manifest annotations" in reason.message and "image labels" in reason.message


def test_index_annotations_carry_labels_for_the_index(deps: IntakeDeps) -> None:
    """buildx --annotation index:...: the child alone lacks labels, the index has them; the
    child's own rejection does not decide for the index (only an index's reaches down)."""
    from tests.support.fakes import FakeRejections

    deps.rejections = FakeRejections()
    child = deps.registry.add_image({})
    index = deps.registry.add_index({("linux", "amd64"): child}, annotations=LABELS)
    assert handle_image_pushed(pushed(deps, child, tag=None), deps).kind is (
        RecordKind.ARTIFACT_REJECTED
    )
    outcome = handle_image_pushed(pushed(deps, index, event_id="e2"), deps)
    assert outcome.kind is RecordKind.APPROVAL_REQUESTED
    assert deps.lineage.records[-1].artifact.digest == index


def _registered(deps: IntakeDeps, tags: dict[str, str]) -> IncomingEvent:
    aml = deps.catalog.region("westeurope").aml
    assert aml is not None
    topic = (
        f"/subscriptions/{aml.subscription_id}/resourceGroups/{aml.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{aml.workspace}"
    )
    return IncomingEvent(
        id="aml-1",
        type="Microsoft.MachineLearningServices.ModelRegistered",
        source=topic,
        subject="models/scorer/versions/3",
        time=None,
        data={"ModelName": "scorer", "ModelVersion": 3, "ModelTags": tags},
        schema="eventgrid",
    )


def test_an_aml_model_carries_the_workspaces_registrant_not_a_tag(
    deps: IntakeDeps, tmp_path: Path, aml_tags: dict[str, str]
) -> None:
    from shared.adapters.aml.registrant import LocalRegistrants

    (tmp_path / "reg" / "mlw-westeurope" / "scorer").mkdir(parents=True)
    (tmp_path / "reg" / "mlw-westeurope" / "scorer" / "3.json").write_text(
        json.dumps({"created_by": "approver.one@contoso.example", "object_id": "oid-1"})
    )
    deps.registrants = LocalRegistrants(tmp_path / "reg")
    outcome = handle_model_registered(_registered(deps, aml_tags), deps)

    assert outcome.kind is RecordKind.APPROVAL_REQUESTED, outcome.reasons
    ((_, message),) = deps.bus.sent
    request = json.loads(message.body)
    assert request["registered_by"] == "approver.one@contoso.example"
    assert request["registered_by_object_id"] == "oid-1"
    received = next(r for r in deps.lineage.records if r.kind is RecordKind.ARTIFACT_RECEIVED)
    assert received.details["registered_by"] == "approver.one@contoso.example"


def test_a_registrant_path_cannot_escape_its_directory(tmp_path: Path) -> None:
    from shared.adapters.aml.registrant import LocalRegistrants

    (tmp_path / "secret.json").write_text(json.dumps({"created_by": "x"}))
    lookup = LocalRegistrants(tmp_path / "reg")

    assert lookup.registrant("s", "r", "..", "..", "secret") is None
    assert lookup.registrant("s", "r", "ws", "../..", "secret") is None


@pytest.mark.parametrize("alias", ["v1.0.0", "V1.0.0", "01.0.0", "1.0.0.0", "1.00.0"])
def test_another_spelling_of_a_taken_version_is_the_same_version(
    deps: IntakeDeps, alias: str
) -> None:
    # Version order says v1.0.0, 01.0.0 and 1.0.0.0 are 1.0.0: a second build under one of
    # them is a reused version, not a new one that approvers cannot tell from the first.
    first = deps.registry.add_image(model_labels(version="1.0.0"))
    second = deps.registry.add_image(
        dict(model_labels(version=alias), **{"ai.clearance.team": "other"})
    )
    handle_image_pushed(pushed(deps, first, event_id="a"), deps)
    outcome = handle_image_pushed(pushed(deps, second, event_id="b"), deps)
    assert outcome.kind is RecordKind.ARTIFACT_REJECTED
    assert outcome.reasons[0].code == "CLR-INTAKE-VERSION-REUSED"


class RecordingLineage(FakeLineage):
    """Keeps each append_all call's records together (what one transaction would hold)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[RecordKind]] = []

    def append_all(self, entries: Any, *, new_chain: bool = False) -> list[bool]:
        self.batches.append([record.kind for record, _ in entries])
        return super().append_all(entries, new_chain=new_chain)


def test_one_delivery_writes_its_steps_in_one_append(deps: IntakeDeps) -> None:
    deps.lineage = RecordingLineage()
    digest = deps.registry.add_image(LABELS)
    handle_image_pushed(pushed(deps, digest), deps)
    assert deps.lineage.batches == [
        [
            RecordKind.ARTIFACT_RECEIVED,
            RecordKind.ARTIFACT_VALIDATED,
            RecordKind.APPROVAL_REQUESTED,
        ]
    ]


def test_an_exact_redelivery_of_a_completed_event_writes_and_sends_nothing(
    deps: IntakeDeps,
) -> None:
    digest = deps.registry.add_image(LABELS)
    handle_image_pushed(pushed(deps, digest), deps)
    records, sent = list(deps.lineage.records), list(deps.bus.sent)
    outcome = handle_image_pushed(pushed(deps, digest), deps)
    assert outcome.kind is RecordKind.ARTIFACT_DUPLICATE
    assert deps.lineage.records == records and deps.bus.sent == sent


def test_a_failure_half_way_still_records_what_was_collected(deps: IntakeDeps) -> None:
    digest = deps.registry.add_image(LABELS)
    deps.registry.unreachable = True
    with pytest.raises(TransientError):
        handle_image_pushed(pushed(deps, digest), deps)
    assert [r.kind for r in deps.lineage.records] == [RecordKind.ARTIFACT_RECEIVED]
    deps.registry.unreachable = False
    handle_image_pushed(pushed(deps, digest), deps)  # the retry completes, nothing twice
    kinds = [r.kind for r in deps.lineage.records]
    assert kinds.count(RecordKind.ARTIFACT_RECEIVED) == 1
    assert kinds[-1] is RecordKind.APPROVAL_REQUESTED
