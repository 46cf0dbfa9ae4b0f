"""Intake end to end on the local stack: real pushes, the real Event Grid endpoint, real storage."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.containerregistry import ContainerRegistryClient
from azure.core.exceptions import ResourceNotFoundError

from shared.adapters.storage.approvals import TABLE as APPROVALS_TABLE
from shared.adapters.storage.lineage.writer import TableLineageWriter
from shared.composition import Container
from shared.domain.approval.record import Approval
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, LineageRecord, RecordKind
from shared.local.events import deliver, image_pushed, model_registered
from shared.local.images import push_image, push_index
from shared.local.samples import model_labels
from shared.local.smtp_sink import read_mails
from shared.local.stack import LocalStack
from tests.conftest import wait_for

pytestmark = pytest.mark.stack

VALID = model_labels(
    risk_tier="medium",
    extra={
        "ai.clearance.rollout.strategy": "canary",
        "ai.clearance.rollout.canary.steps": "10,50,100",
        "ai.clearance.rollout.canary.bake-minutes": "5",
    },
)
AML_TAGS = {
    k: v
    for k, v in VALID.items()
    if not k.startswith(("ai.clearance.serving", "ai.clearance.resources"))
    and k not in ("ai.clearance.model.name", "org.opencontainers.image.version")
}


def labels(**changes: str | None) -> dict[str, str]:
    out = dict(VALID)
    for key, value in changes.items():
        real = key.replace("__", ".").replace("_", "-")
        if value is None:
            out.pop(real, None)
        else:
            out[real] = value
    return out


@pytest.fixture
def cells(cell_container: Callable[[str], Container]) -> Callable[[str], Container]:
    return cell_container


def registry(stack: LocalStack, region: str) -> ContainerRegistryClient:
    return stack.registry_client(region)


def image_ref(stack: LocalStack, region: str, repository: str, digest: str) -> ArtifactRef:
    return ArtifactRef(
        kind="image", registry=stack.login_server(region), repository=repository, digest=digest
    )


def records(cell: Container, artifact: ArtifactRef) -> list[LineageRecord]:
    return TableLineageWriter(cell.table_service).list_for(artifact.key_hash)


def terminal(cell: Container, artifact: ArtifactRef) -> list[LineageRecord]:
    return [r for r in records(cell, artifact) if r.kind in INTAKE_TERMINAL]


def approval_requests(cell: Container) -> list[Approval]:
    """What the approval-requests consumer made of the bus messages: one record per message."""
    table = cell.table_service.get_table_client(APPROVALS_TABLE)
    try:
        rows = list(table.query_entities("RowKey eq 'approval'"))
    except ResourceNotFoundError:
        return []
    return [Approval.model_validate_json(r["Doc"]) for r in rows]


def requests_for(cell: Container, digest: str) -> list[Approval]:
    return [r for r in approval_requests(cell) if r.artifact.digest == digest]


def wait_requests(cell: Container, digest: str) -> list[Approval]:
    return list(wait_for(lambda: requests_for(cell, digest)))


def settled(cell: Container, artifact: ArtifactRef, count: int = 1) -> list[LineageRecord]:
    return wait_for(lambda: (t := terminal(cell, artifact)) and len(t) >= count and t, timeout=30)


# -- images through the registry and the Event Grid endpoint ------------------------------
def test_valid_image_becomes_one_approval_request(hosts: LocalStack, cells: Any) -> None:
    cell = cells("westeurope")
    pushed = push_image(registry(hosts, "westeurope"), "models/fraud", labels(), tag="1.0.0")
    artifact = image_ref(hosts, "westeurope", "models/fraud", pushed.digest)
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.APPROVAL_REQUESTED
    kinds = [r.kind for r in records(cell, artifact)]
    assert kinds[:2] == [RecordKind.ARTIFACT_RECEIVED, RecordKind.ARTIFACT_VALIDATED]
    (request,) = wait_requests(cell, pushed.digest)
    assert request.metadata.name == "fraud-detector"
    assert request.region == "westeurope"
    assert request.artifact.tag == "1.0.0"
    assert final.details["message_id"] == f"approval-request-{request.artifact.key_hash}"


def test_missing_and_malformed_labels_are_rejected_with_every_reason(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("westeurope")
    bad = labels(
        ai__clearance__owner=None,
        ai__clearance__serving__port="eighty",
        ai__clearance__regions="westeurope,<script>",
        org__opencontainers__image__version="2.0.0",
    )
    bad["ai.clearance.model.name"] = "fraud-bad"
    pushed = push_image(registry(hosts, "westeurope"), "models/fraud-bad", bad, tag="x")
    artifact = image_ref(hosts, "westeurope", "models/fraud-bad", pushed.digest)
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    fields = {r.field for r in final.reasons}
    assert {"ai.clearance.owner", "ai.clearance.serving.port", "ai.clearance.regions"} <= fields
    assert requests_for(cell, pushed.digest) == []
    # no owner address: the platform channel is told, with every reason, markup escaped
    mail = wait_for(lambda: read_mails_about(hosts, pushed.digest))[0]
    assert mail["To"] == "platform-team@contoso.example"
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "CLR-META-MISSING" in mail.get_body(("plain",)).get_content()


def test_rejection_mail_goes_to_a_valid_owner(hosts: LocalStack, cells: Any) -> None:
    cell = cells("westeurope")
    bad = labels(ai__clearance__risk_tier="extreme")
    bad["ai.clearance.model.name"] = "risky"
    bad["ai.clearance.owner"] = "risky.owner@contoso.example"
    pushed = push_image(registry(hosts, "westeurope"), "models/risky", bad, tag="1")
    settled(cell, image_ref(hosts, "westeurope", "models/risky", pushed.digest))
    mail = wait_for(
        lambda: [m for m in read_mails(hosts.maildir) if m["To"] == "risky.owner@contoso.example"]
    )[0]
    assert "ai.clearance.risk-tier" in mail.get_body(("plain",)).get_content()


def test_image_index_uses_amd64_and_dedupes_with_its_platform_manifest(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("westeurope")
    reg = registry(hosts, "westeurope")
    ml = labels(org__opencontainers__image__version="3.0.0")
    ml["ai.clearance.model.name"] = "multi"
    amd = push_image(reg, "models/multi", ml, platform=("linux", "amd64"))
    arm = push_image(reg, "models/multi", ml, platform=("linux", "arm64"))
    index = push_index(reg, "models/multi", [amd, arm], tag="3.0.0")
    (amd_final,) = settled(cell, image_ref(hosts, "westeurope", "models/multi", amd.digest))
    (arm_final,) = settled(cell, image_ref(hosts, "westeurope", "models/multi", arm.digest))
    (idx_final,) = settled(cell, image_ref(hosts, "westeurope", "models/multi", index.digest))
    assert amd_final.kind is RecordKind.APPROVAL_REQUESTED
    assert arm_final.kind is RecordKind.ARTIFACT_SKIPPED
    assert idx_final.kind is RecordKind.ARTIFACT_DUPLICATE
    assert idx_final.details["same_image_as"] == amd.digest
    wait_requests(cell, amd.digest)
    assert len([r for r in approval_requests(cell) if r.metadata.name == "multi"]) == 1


def test_platforms_that_disagree_on_labels_are_rejected(hosts: LocalStack, cells: Any) -> None:
    cell = cells("westeurope")
    reg = registry(hosts, "westeurope")
    amd_labels = labels(org__opencontainers__image__version="4.0.0")
    amd_labels["ai.clearance.model.name"] = "split"
    arm_labels = dict(amd_labels, **{"ai.clearance.risk-tier": "low"})
    amd = push_image(reg, "models/split", amd_labels, platform=("linux", "amd64"))
    arm = push_image(reg, "models/split", arm_labels, platform=("linux", "arm64"))
    settled(cell, image_ref(hosts, "westeurope", "models/split", amd.digest))
    index = push_index(reg, "models/split", [amd, arm], tag="4.0.0")
    (final,) = settled(cell, image_ref(hosts, "westeurope", "models/split", index.digest))
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    (reason,) = final.reasons
    assert reason.code == "CLR-INTAKE-PLATFORM-LABELS"
    assert reason.field == "ai.clearance.risk-tier"


def test_helm_chart_is_skipped_not_rejected(hosts: LocalStack, cells: Any) -> None:
    cell = cells("westeurope")
    pushed = push_image(
        registry(hosts, "westeurope"),
        "charts/serving",
        {},
        tag="0.1.0",
        config_media_type="application/vnd.cncf.helm.config.v1+json",
    )
    (final,) = settled(cell, image_ref(hosts, "westeurope", "charts/serving", pushed.digest))
    assert final.kind is RecordKind.ARTIFACT_SKIPPED
    assert "helm" in final.details["reason"]
    assert read_mails_about(hosts, pushed.digest) == []


def read_mails_about(stack: LocalStack, text: str) -> list[Any]:
    return [m for m in read_mails(stack.maildir) if text in m.get_body(("plain",)).get_content()]


def test_push_by_digest_then_tag_requests_once_and_records_the_retag(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("westeurope")
    reg = registry(hosts, "westeurope")
    lbl = labels(org__opencontainers__image__version="5.0.0")
    lbl["ai.clearance.model.name"] = "bydigest"
    pushed = push_image(reg, "models/bydigest", lbl)
    artifact = image_ref(hosts, "westeurope", "models/bydigest", pushed.digest)
    (first,) = settled(cell, artifact)
    assert first.kind is RecordKind.APPROVAL_REQUESTED
    manifest = reg.get_manifest("models/bydigest", pushed.digest).manifest
    reg.set_manifest(
        "models/bydigest",
        io.BytesIO(json.dumps(manifest, sort_keys=True).encode()),
        tag="5.0.0",
        media_type=pushed.media_type,
    )
    kinds = wait_for(
        lambda: (k := [r.kind for r in terminal(cell, artifact)]) and len(k) == 2 and k
    )
    assert kinds == [RecordKind.APPROVAL_REQUESTED, RecordKind.ARTIFACT_RETAGGED]
    assert len(wait_requests(cell, pushed.digest)) == 1


def test_same_event_three_times_concurrently_yields_one_request(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("swedencentral")
    reg = registry(hosts, "swedencentral")
    lbl = labels(ai__clearance__regions="swedencentral", ai__clearance__residency="SE")
    lbl["ai.clearance.model.name"] = "triple"
    # pushed in swedencentral: its own ImagePushed is one delivery; replay it three more times
    pushed = push_image(reg, "models/triple", lbl, tag="1.0.0")
    artifact = image_ref(hosts, "swedencentral", "models/triple", pushed.digest)
    settled(cell, artifact)
    event = recorded_event(hosts, "swedencentral", pushed.digest)
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: statuses.append(
                deliver(hosts.host_url("swedencentral"), "acr_image_pushed", [event])
            )
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202, 202, 202]
    # one event id delivered three times is one event: it ends in exactly one terminal record
    finals = settled(cell, artifact, count=2)
    time.sleep(0.5)
    finals = terminal(cell, artifact)
    assert [r.kind for r in finals] == [
        RecordKind.APPROVAL_REQUESTED,
        RecordKind.ARTIFACT_DUPLICATE,
    ]
    assert finals[1].correlation.event_id == event["id"]
    assert len(wait_requests(cell, pushed.digest)) == 1


def recorded_event(stack: LocalStack, region: str, digest: str) -> dict[str, Any]:
    """The ImagePushed event of a manifest, as the bridge raises it (a fresh event id)."""
    return image_pushed(
        stack, region, "models/triple", digest, "1.0.0", event_id=f"replay-{digest[-8:]}"
    )


# -- residency ----------------------------------------------------------------------------
def test_se_model_pushed_in_westeurope_is_rejected(hosts: LocalStack, cells: Any) -> None:
    cell = cells("westeurope")
    lbl = labels(ai__clearance__regions="swedencentral", ai__clearance__residency="SE")
    lbl["ai.clearance.model.name"] = "se-only"
    pushed = push_image(registry(hosts, "westeurope"), "models/se-only", lbl, tag="1")
    (final,) = settled(cell, image_ref(hosts, "westeurope", "models/se-only", pushed.digest))
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    codes = {r.code for r in final.reasons}
    assert "CLR-INTAKE-SOURCE-NOT-TARGET" in codes
    assert requests_for(cell, pushed.digest) == []


def test_eu_model_for_swedencentral_from_its_registry_is_accepted(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("swedencentral")
    lbl = labels(ai__clearance__regions="swedencentral", ai__clearance__residency="EU")
    lbl["ai.clearance.model.name"] = "eu-in-se"
    pushed = push_image(registry(hosts, "swedencentral"), "models/eu-in-se", lbl, tag="1")
    (final,) = settled(cell, image_ref(hosts, "swedencentral", "models/eu-in-se", pushed.digest))
    assert final.kind is RecordKind.APPROVAL_REQUESTED
    assert requests_for(cells("westeurope"), pushed.digest) == []


def test_forged_event_for_a_foreign_registry_is_refused_without_contacting_it(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("westeurope")
    event = recorded_event(hosts, "westeurope", "sha256:" + "ab" * 32)
    event["data"]["request"]["host"] = "evil.example.com"
    event["id"] = "forged-1"
    assert deliver(hosts.host_url("westeurope"), "acr_image_pushed", [event]) == 202
    artifact = ArtifactRef(
        kind="image",
        registry="evil.example.com",
        repository="models/triple",
        digest="sha256:" + "ab" * 32,
    )
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    assert final.reasons[0].code == "CLR-INTAKE-UNKNOWN-REGISTRY"
    # a registry of the other region is refused too (no cross-region pulls)
    other = dict(event, id="forged-2")
    other["data"] = dict(
        event["data"],
        request=dict(event["data"]["request"], host=hosts.login_server("swedencentral")),
    )
    deliver(hosts.host_url("westeurope"), "acr_image_pushed", [other])
    cross = ArtifactRef(
        kind="image",
        registry=hosts.login_server("swedencentral"),
        repository="models/triple",
        digest="sha256:" + "ab" * 32,
    )
    (final2,) = settled(cell, cross)
    assert final2.reasons[0].code == "CLR-INTAKE-CROSS-REGION"


def test_other_event_types_are_acknowledged_and_ignored(hosts: LocalStack) -> None:
    event = recorded_event(hosts, "westeurope", "sha256:" + "cd" * 32)
    event["eventType"] = "Microsoft.ContainerRegistry.ImageDeleted"
    assert deliver(hosts.host_url("westeurope"), "acr_image_pushed", [event]) == 202


def test_hostile_label_values_are_carried_as_data_or_rejected(
    hosts: LocalStack, cells: Any
) -> None:
    cell = cells("westeurope")
    lbl = labels(org__opencontainers__image__version="6.0.0")
    lbl["ai.clearance.model.name"] = "hostile"
    lbl["org.opencontainers.image.description"] = '<img src=x onerror=alert(1)> {"a": [1]} ---'
    lbl["ai.clearance.team"] = "x" * 5000
    pushed = push_image(registry(hosts, "westeurope"), "models/hostile", lbl, tag="6")
    (final,) = settled(cell, image_ref(hosts, "westeurope", "models/hostile", pushed.digest))
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    assert {r.code for r in final.reasons} == {"CLR-META-TOO-LONG"}


# -- Azure ML registrations ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("casing", "schema"),
    [
        ("pascal", "eventgrid"),
        ("camel", "eventgrid"),
        ("pascal", "cloudevents"),
        ("camel", "cloudevents"),
    ],
)
def test_model_registered_in_both_casings_and_schemas(
    hosts: LocalStack, cells: Any, casing: str, schema: str
) -> None:
    cell = cells("westeurope")
    name = f"aml-{casing}-{schema}"
    event = model_registered("westeurope", name, 7, AML_TAGS, casing=casing, schema=schema)
    assert deliver(hosts.host_url("westeurope"), "aml_model_registered", [event]) == 202
    artifact = ArtifactRef(kind="aml_model", workspace="mlw-westeurope", model=name, version="7")
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.APPROVAL_REQUESTED, final.reasons
    (request,) = wait_for(lambda: [r for r in approval_requests(cell) if r.metadata.name == name])
    assert request.metadata.version == "7"
    # Event Grid redelivers the same event: it stays one event with one terminal record
    assert deliver(hosts.host_url("westeurope"), "aml_model_registered", [event]) == 202
    time.sleep(0.5)
    assert [r.kind for r in terminal(cell, artifact)] == [RecordKind.APPROVAL_REQUESTED]
    # another event for the same registration: recorded as a duplicate, no second request
    again = dict(event, id=f"{event['id']}-again")
    assert deliver(hosts.host_url("westeurope"), "aml_model_registered", [again]) == 202
    finals = settled(cell, artifact, count=2)
    assert [r.kind for r in finals] == [
        RecordKind.APPROVAL_REQUESTED,
        RecordKind.ARTIFACT_DUPLICATE,
    ]
    assert len([r for r in approval_requests(cell) if r.metadata.name == name]) == 1


def test_model_registered_in_a_foreign_workspace_is_rejected(hosts: LocalStack, cells: Any) -> None:
    cell = cells("westeurope")
    event = model_registered(
        "westeurope",
        "aml-foreign",
        1,
        AML_TAGS,
        topic=model_registered("swedencentral", "x", 1, {})["topic"],
    )
    deliver(hosts.host_url("westeurope"), "aml_model_registered", [event])
    artifact = ArtifactRef(
        kind="aml_model", workspace="mlw-swedencentral", model="aml-foreign", version="1"
    )
    (final,) = settled(cell, artifact)
    assert final.kind is RecordKind.ARTIFACT_REJECTED
    assert "CLR-INTAKE-FOREIGN-WORKSPACE" in {r.code for r in final.reasons}
