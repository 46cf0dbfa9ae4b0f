"""Images built with umoci and pushed with skopeo (clients nobody here wrote) to the local TLS
registry, as OCI, Docker v2s2 and a two-platform index: each push's terminal outcome, and the
invariant that nothing in a rejected index is ever approvable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.composition import Container
from shared.domain.approval.record import ApprovalState, Refusal
from shared.domain.lineage.record import RecordKind
from shared.local.samples import model_labels
from shared.local.stack import SAMPLE_APPROVERS, SAMPLE_OWNER, LocalStack
from shared.services.approval.requests import cast_vote
from tests.conftest import wait_for
from tests.integration.test_intake import approval_requests, image_ref, settled
from tests.support import oci_clients as oci

pytestmark = pytest.mark.stack
AMD64, ARM64 = ("linux", "amd64"), ("linux", "arm64")


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    oci.require_tools()


@pytest.fixture
def cell(cell_container: Callable[[str], Container]) -> Container:
    return cell_container("westeurope")


@pytest.fixture
def cert_dir(stack: LocalStack, tmp_path: Path) -> Path:
    return oci.cert_dir_for(stack.ca_file, tmp_path / "certs")


@pytest.fixture
def creds(stack: LocalStack) -> oci.Credentials:
    """The sample owner's login: the local registries, like ACR, refuse anonymous pushes."""
    return oci.Credentials(*stack.registry_credentials("westeurope", SAMPLE_OWNER))


def labels(name: str, version: str, **extra: str) -> dict[str, str]:
    return model_labels(name, version, extra=extra)


def digest_of(stack: LocalStack, repository: str, tag: str) -> str:
    client = stack.registry_client("westeurope")
    return str(client.get_manifest(repository, tag).digest)


def outcome(cell: Container, stack: LocalStack, repository: str, digest: str) -> Any:
    (final,) = settled(cell, image_ref(stack, "westeurope", repository, digest))
    return final


def test_oci_image_pushed_by_skopeo_is_requested(
    hosts: LocalStack, cell: Container, cert_dir: Path, creds: oci.Credentials, tmp_path: Path
) -> None:
    layout = tmp_path / "oci"
    oci.build_image(layout, "img", labels("umoci-oci", "1.0.0"))
    destination = f"{hosts.login_server('westeurope')}/models/umoci-oci:1.0.0"
    oci.push(layout, "img", destination, cert_dir=cert_dir, creds=creds)
    digest = digest_of(hosts, "models/umoci-oci", "1.0.0")
    assert digest == oci.layout_digest(layout, "img")
    assert outcome(cell, hosts, "models/umoci-oci", digest).kind is RecordKind.APPROVAL_REQUESTED


def test_docker_v2s2_image_pushed_by_skopeo_is_requested(
    hosts: LocalStack, cell: Container, cert_dir: Path, creds: oci.Credentials, tmp_path: Path
) -> None:
    layout = tmp_path / "oci"
    oci.build_image(layout, "img", labels("umoci-docker", "1.0.0"))
    destination = f"{hosts.login_server('westeurope')}/models/umoci-docker:1.0.0"
    oci.push(layout, "img", destination, cert_dir=cert_dir, creds=creds, manifest_format="v2s2")
    digest = digest_of(hosts, "models/umoci-docker", "1.0.0")
    assert digest != oci.layout_digest(layout, "img")  # converted to Docker v2s2
    final = outcome(cell, hosts, "models/umoci-docker", digest)
    assert final.kind is RecordKind.APPROVAL_REQUESTED


def test_two_platform_index_pushed_with_all_requests_its_amd64_image_once(
    hosts: LocalStack, cell: Container, cert_dir: Path, creds: oci.Credentials, tmp_path: Path
) -> None:
    layout = tmp_path / "oci"
    same = labels("umoci-multi", "1.0.0")
    oci.build_image(layout, "amd64", same, platform=AMD64)
    oci.build_image(layout, "arm64", same, platform=ARM64)
    index = oci.build_index(layout, "multi", {AMD64: "amd64", ARM64: "arm64"})
    destination = f"{hosts.login_server('westeurope')}/models/umoci-multi:1.0.0"
    oci.push(layout, "multi", destination, cert_dir=cert_dir, creds=creds, all_platforms=True)
    amd, arm = oci.layout_digest(layout, "amd64"), oci.layout_digest(layout, "arm64")
    repo = "models/umoci-multi"
    assert outcome(cell, hosts, repo, amd).kind is RecordKind.APPROVAL_REQUESTED
    skipped = outcome(cell, hosts, repo, arm)
    assert skipped.kind is RecordKind.ARTIFACT_SKIPPED
    assert "linux/amd64 manifest is approved" in skipped.details["reason"]
    final = outcome(cell, hosts, repo, index)
    assert final.kind is RecordKind.ARTIFACT_DUPLICATE
    assert final.details["same_image_as"] == amd
    wait_for(lambda: [a for a in approval_requests(cell) if a.artifact.digest == amd])
    assert len([a for a in approval_requests(cell) if a.metadata.name == "umoci-multi"]) == 1


def test_split_label_index_child_is_never_approvable(
    hosts: LocalStack, cell: Container, cert_dir: Path, creds: oci.Credentials, tmp_path: Path
) -> None:
    layout = tmp_path / "oci"
    oci.build_image(layout, "amd64", labels("umoci-split", "1.0.0"), platform=AMD64)
    arm_labels = labels("umoci-split", "1.0.0", **{"ai.clearance.risk-tier": "high"})
    oci.build_image(layout, "arm64", arm_labels, platform=ARM64)
    index = oci.build_index(layout, "multi", {AMD64: "amd64", ARM64: "arm64"})
    destination = f"{hosts.login_server('westeurope')}/models/umoci-split:1.0.0"
    oci.push(layout, "multi", destination, cert_dir=cert_dir, creds=creds, all_platforms=True)
    amd, repo = oci.layout_digest(layout, "amd64"), "models/umoci-split"

    rejected = outcome(cell, hosts, repo, index)
    assert rejected.kind is RecordKind.ARTIFACT_REJECTED
    assert [r.code for r in rejected.reasons] == ["CLR-INTAKE-PLATFORM-LABELS"]
    # the child went first (skopeo --all) and was requested; its request ends withdrawn
    assert outcome(cell, hosts, repo, amd).kind is RecordKind.APPROVAL_REQUESTED
    (child,) = wait_for(
        lambda: [
            a
            for a in approval_requests(cell)
            if a.artifact.digest == amd and a.state is ApprovalState.CANCELLED
        ],
        timeout=30,
    )
    assert index in (child.decision_reason or "")
    vote = cast_vote(
        child.approval_id, SAMPLE_APPROVERS[0], "approve", None, "signed_link", cell.approvals()
    )
    assert vote.refusal is Refusal.FINAL and not vote.counted


def test_labels_given_only_as_manifest_annotations_are_read(
    hosts: LocalStack, cell: Container, cert_dir: Path, creds: oci.Credentials, tmp_path: Path
) -> None:
    layout = tmp_path / "oci"
    oci.build_image(layout, "img", {}, annotations=labels("umoci-annotated", "1.0.0"))
    destination = f"{hosts.login_server('westeurope')}/models/umoci-annotated:1.0.0"
    oci.push(layout, "img", destination, cert_dir=cert_dir, creds=creds)
    digest = oci.layout_digest(layout, "img")
    assert outcome(cell, hosts, "models/umoci-annotated", digest).kind is (
        RecordKind.APPROVAL_REQUESTED
    )
