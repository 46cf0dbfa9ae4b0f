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
