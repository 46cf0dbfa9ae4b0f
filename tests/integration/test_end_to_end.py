"""The main job, end to end on the local stack with both hosts as real processes:
push a real image -> Event Grid -> approval by two approvers over HTTP -> a deployment commit
in the right region's GitOps repository -> complete lineage; nothing lands in the other region.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shared.composition import Container
from shared.domain.approval.record import ApprovalState
from shared.domain.lineage.record import RecordKind
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from tests.conftest import wait_for
from tests.integration.approval_flow import Flow, vote

pytestmark = pytest.mark.stack
ONE, TWO = SAMPLE_APPROVERS


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def commits(repo: Path) -> list[str]:
    try:
        return git(repo, "log", "--format=%H", "main").split()
    except subprocess.CalledProcessError:
        return []  # no commit yet


def test_pushed_model_is_approved_and_committed_to_its_regions_repository(
    hosts: LocalStack, cell: Container
) -> None:
    weu_repo, sdc_repo = hosts.gitops_repo("westeurope"), hosts.gitops_repo("swedencentral")
    sdc_before = commits(sdc_repo)
    flow = Flow(hosts, cell, "e2e-ranker", "3.1.0")
    flow.wait_open()
    assert vote(flow, ONE)[0] == 200
    assert vote(flow, TWO)[0] == 200
    assert flow.approval().state is ApprovalState.APPROVED

    def deployed() -> list[str]:
        for sha in commits(weu_repo):
            message = git(weu_repo, "log", "-1", "--format=%B", sha)
            if f"Approval-Id: {flow.approval_id}" in message:
                return [sha, message]
        return []

    sha, message = wait_for(deployed, timeout=60)
    assert f"Artifact-Digest: {flow.pushed.digest}" in message
    assert ONE in message and TWO in message  # Approved-By trailers
    files = git(weu_repo, "show", "--name-only", "--format=", sha).split()
    assert files and all(f.startswith("clusters/westeurope/") for f in files)
    tree = "".join(git(weu_repo, "show", f"{sha}:{f}") for f in files)
    image = f"{hosts.login_server('westeurope')}/models/e2e-ranker@{flow.pushed.digest}"
    assert image in tree  # exactly the approved digest, from the region's own registry
    assert commits(sdc_repo) == sdc_before  # never in the other region

    succeeded = wait_for(lambda: flow.records(RecordKind.DEPLOYMENT_SUCCEEDED), timeout=60)
    assert succeeded[0].where["gitops_commit"] == sha  # the commit is in lineage
    kinds = [
        r.kind
        for r in flow.cell.lineage.list_for(  # type: ignore[attr-defined]
            flow.artifact.model_copy(update={"tag": None}).key_hash
        )
    ]
    for expected in (
        RecordKind.ARTIFACT_RECEIVED,
        RecordKind.ARTIFACT_VALIDATED,
        RecordKind.APPROVAL_REQUESTED,
        RecordKind.APPROVAL_NOTIFIED,
        RecordKind.APPROVAL_VOTE,
        RecordKind.APPROVAL_APPROVED,
        RecordKind.DEPLOYMENT_STARTED,
        RecordKind.DEPLOYMENT_SUCCEEDED,
    ):
        assert expected in kinds, (expected, kinds)
    assert kinds.index(RecordKind.APPROVAL_APPROVED) < kinds.index(RecordKind.DEPLOYMENT_STARTED)
