"""Stages end to end on a staged local stack (both hosts as real processes, real Azurite,
registries, SMTP and GitOps repositories): what ``make run APPROVE=1`` walks.

westeurope: ``staging`` (no human approval, bakes, promotes itself) → ``prod`` (two of the
sample approvers), each stage in its own GitOps path. swedencentral: the same, with a prod
change window that opens a little after the module starts (``WINDOW_LEAD``), so a prod
deployment approved before it is scheduled for its opening, or started by an override.

The session stack of the other integration tests keeps one implicit stage; this module runs
its own stack (``LocalStack(stages=True)``, as ``clearance stack up`` does by default).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.storage.approvals import TableApprovalStore
from shared.composition import Container
from shared.domain.approval.record import ApprovalState, approval_id_for
from shared.domain.deploy.windows import WEEKDAYS
from shared.domain.lineage.record import ArtifactRef, LineageRecord, RecordKind
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.smtp_sink import read_mails
from shared.local.stack import SAMPLE_APPROVERS, SAMPLE_OWNER, LocalStack, StackPorts
from shared.services.approval.stages import stage_approval_id
from shared.settings import build_settings
from tests.conftest import REPO, wait_for
from tests.integration.approval_flow import LINK, form_of, http, sign_in

pytestmark = pytest.mark.stack

ONE, TWO = SAMPLE_APPROVERS
THREE = "approver.three@contoso.example"
BAKE = timedelta(seconds=5.5)  # staging's 5 bake minutes, scaled, and a margin
WINDOW_LEAD = timedelta(seconds=150)  # the swedencentral prod window opens after this


class StagedStack(LocalStack):
    """The staged local stack; swedencentral's prod stage has a change window opening
    ``WINDOW_LEAD`` after the catalog is written (minute resolution, UTC) and three listed
    approvers (two approve, the third may override)."""

    opening: datetime

    def stage_entries(self, region: str) -> list[dict[str, Any]]:
        entries = super().stage_entries(region)
        if region != "swedencentral":
            return entries
        start = (datetime.now(UTC) + WINDOW_LEAD).replace(second=0, microsecond=0)
        start += timedelta(minutes=1)
        end = min(start + timedelta(minutes=10), start.replace(hour=23, minute=59))
        self.opening = start
        prod = entries[-1]
        prod["approval"] = {"default": {"approvers": [ONE, TWO, THREE], "min_approvals": 2}}
        prod["windows"] = {
            "time_zone": "UTC",
            "weekly": [
                {
                    "days": [WEEKDAYS[start.weekday()]],
                    "start": f"{start:%H:%M}",
                    "end": "24:00" if end.minute == 59 and end.hour == 23 else f"{end:%H:%M}",
                }
            ],
        }
        return entries


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedStack]:
    local = StagedStack(
        tmp_path_factory.mktemp("staged"), REPO, ports=StackPorts.free(), stages=True
    )
    try:
        local.up(timeout=120)
        yield local
    finally:
        local.down()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


class Walk:
    """One model pushed to a region of the staged stack."""

    def __init__(self, stack: StagedStack, region: str, name: str, version: str) -> None:
        self.stack, self.region = stack, region
        self.cell = Container(build_settings(stack.environment(region)))
        zone = "EU" if region == "westeurope" else "SE"
        labels = model_labels(name, version, region=region, zone=zone, risk_tier="medium")
        self.pushed = push_image(
            stack.registry_client(region), f"models/{name}", labels, tag=version
        )
        self.artifact = ArtifactRef(
            kind="image",
            registry=stack.login_server(region),
            repository=f"models/{name}",
            digest=self.pushed.digest,
        )
        self.name = name
        self.staging_id = approval_id_for(self.artifact, region)
        self.prod_id = stage_approval_id(self.staging_id, "prod")
        self.store = TableApprovalStore(self.cell.table_service)

    def records(self, kind: RecordKind, stage: str | None = None) -> list[LineageRecord]:
        return [
            r
            for r in self.cell.lineage.list_for(self.artifact.key_hash)  # type: ignore[attr-defined]
            if r.kind is kind and (stage is None or r.details.get("stage") == stage)
        ]

    def approval(self, approval_id: str) -> Any:
        from shared.domain.errors import TerminalError

        try:
            return self.store.get(approval_id)[0]
        except TerminalError:
            return None

    def link_for(self, approver: str) -> str:
        def find() -> list[str]:
            found = []
            for mail in read_mails(self.stack.maildir):
                if mail["To"] == approver:
                    text = mail.get_body(("plain",)).get_content()
                    found += [u for u in LINK.findall(text) if self.prod_id in u]
            return found

        return str(wait_for(find, timeout=30)[0])

    def vote(self, approver: str) -> int:
        status, page, _ = http("GET", self.link_for(approver))
        assert status == 200, page
        url = f"{self.stack.host_url(self.region)}/api/approvals/{self.prod_id}/review"
        status, page, _ = http("POST", url, {**form_of(page), "decision": "approve"})
        assert status == 200, page
        return status

    def post_json(self, path: str, person: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = {**sign_in(self.stack, person, self.region), "Content-Type": "application/json"}
        request = urllib.request.Request(
            f"{self.stack.host_url(self.region)}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:  # local host
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def files(self, sha: str) -> list[str]:
        return git(
            self.stack.gitops_repo(self.region), "show", "--name-only", "--format=", sha
        ).split()


def _staging_then_pending_prod(walk: Walk) -> LineageRecord:
    """Intake → staging approved by nobody (no human approval) → deployed in its own path →
    after the bake time the prod approval opens by itself, with staging's evidence."""
    (staged,) = wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SUCCEEDED, "staging"), 60)
    first = walk.approval(walk.staging_id)
    assert first.state is ApprovalState.APPROVED and first.stage == "staging"
    assert first.decided_by == ("clearance (no human approval for this stage)",)
    files = walk.files(staged.where["gitops_commit"])
    assert files and all(f.startswith(f"clusters/{walk.region}/models/staging/") for f in files), (
        files
    )
    assert not walk.records(RecordKind.DEPLOYMENT_SUCCEEDED, "prod")
    return staged


def test_staging_bakes_promotes_itself_and_prod_needs_its_quorum(staged: StagedStack) -> None:
    walk = Walk(staged, "westeurope", "stg-ranker", "1.0.0")
    staged_record = _staging_then_pending_prod(walk)
    prod = wait_for(lambda: walk.approval(walk.prod_id), timeout=60)
    assert prod.state is ApprovalState.PENDING and prod.stage == "prod"
    assert any(n.startswith("Promotion from staging") for n in prod.notes), prod.notes
    live_since = staged_record.at
    assert prod.created_at - live_since >= timedelta(seconds=5)  # 5 bake minutes, scaled
    walk.vote(ONE)
    assert walk.approval(walk.prod_id).state is ApprovalState.PENDING  # quorum is two
    assert not walk.records(RecordKind.DEPLOYMENT_STARTED, "prod")
    walk.vote(TWO)
    (done,) = wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SUCCEEDED, "prod"), 60)
    files = walk.files(done.where["gitops_commit"])
    assert files and all(f.startswith("clusters/westeurope/models/prod/") for f in files), files
    message = git(
        staged.gitops_repo("westeurope"), "log", "-1", "--format=%B", done.where["gitops_commit"]
    )
    assert f"Approval-Id: {walk.prod_id}" in message and ONE in message and TWO in message
    # staging still runs it, untouched by the prod commit
    assert walk.files(staged_record.where["gitops_commit"]) != files


def test_the_owner_asks_for_the_promotion_over_http(staged: StagedStack) -> None:
    walk = Walk(staged, "westeurope", "stg-scorer", "2.0.0")
    staged_record = _staging_then_pending_prod(walk)
    path = f"/api/models/{walk.name}/promote"
    body = {"digest": walk.pushed.digest, "stage": "prod"}
    status, answer = walk.post_json(path, ONE, body)  # not the owner
    assert status == 409 and "owner" in answer["error"], answer
    status, answer = walk.post_json(path, SAMPLE_OWNER, {**body, "stage": "staging"})
    assert status == 409 and "first stage" in answer["error"], answer
    status, answer = walk.post_json(path, SAMPLE_OWNER, {**body, "digest": "sha256:" + "0" * 64})
    assert status == 409, answer
    status, answer = walk.post_json(path, SAMPLE_OWNER, body)
    if datetime.now(UTC) < staged_record.at + timedelta(seconds=4):  # within the bake time
        assert status == 409 and "bake time" in answer["error"], answer
    time.sleep(max(0.0, (staged_record.at + BAKE - datetime.now(UTC)).total_seconds()))
    status, answer = walk.post_json(path, SAMPLE_OWNER, body)
    assert status == 202, answer
    assert answer["approval_id"] == walk.prod_id and answer["stage"] == "prod"
    assert answer["state"] == "pending"
    # the automatic promotion (after the bake time) lands on the same approval, not a second
    wait_for(lambda: len(walk.records(RecordKind.APPROVAL_REQUESTED, "prod")) >= 1, 30)
    walk.vote(ONE)
    walk.vote(TWO)
    (done,) = wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SUCCEEDED, "prod"), 60)
    assert done.correlation.approval_id == walk.prod_id


def _approved_outside_the_window(walk: Walk) -> None:
    _staging_then_pending_prod(walk)
    wait_for(lambda: walk.approval(walk.prod_id), timeout=60)
    assert datetime.now(UTC) < walk.stack.opening, "the window opened too early for this test"
    walk.vote(ONE)
    walk.vote(TWO)


def test_an_extra_approver_overrides_the_window_with_a_reason(staged: StagedStack) -> None:
    walk = Walk(staged, "swedencentral", "stg-override", "1.0.0")
    _approved_outside_the_window(walk)
    wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SCHEDULED, "prod"), 30)
    path = f"/api/approvals/{walk.prod_id}/override"
    reason = "INC-4711: fraud spike, the fixed model must serve now"
    status, answer = walk.post_json(path, THREE, {})  # no reason
    assert status == 400, answer
    status, answer = walk.post_json(path, THREE, {"reason": "   now   "})
    assert status == 409 and "reason" in answer["error"], answer
    status, answer = walk.post_json(path, ONE, {"reason": reason})  # approved it already
    assert status == 409 and "another approver" in answer["error"], answer
    status, answer = walk.post_json(path, SAMPLE_OWNER, {"reason": reason})
    assert status == 409, answer
    assert not walk.records(RecordKind.DEPLOYMENT_STARTED, "prod")
    status, answer = walk.post_json(path, THREE, {"reason": reason})
    assert status == 202 and answer["by"] == THREE, answer
    (_done,) = wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SUCCEEDED, "prod"), 60)
    assert datetime.now(UTC) < staged.opening  # it did not wait for the window
    (started,) = walk.records(RecordKind.DEPLOYMENT_STARTED, "prod")
    assert started.at < staged.opening
    overrides = [
        r.details
        for r in walk.records(RecordKind.DEPLOYMENT_SCHEDULED, "prod")
        if r.details.get("override") == "emergency"
    ]
    assert overrides == [
        {
            "stage": "prod",
            "override": "emergency",
            "override_by": THREE,
            "reason": reason,
            "window": "closed",
        }
    ]


def test_outside_the_window_prod_is_scheduled_then_deploys_at_the_opening(
    staged: StagedStack,
) -> None:
    walk = Walk(staged, "swedencentral", "stg-window", "1.0.0")
    _approved_outside_the_window(walk)
    (scheduled,) = wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SCHEDULED, "prod"), 30)
    assert datetime.now(UTC) < staged.opening
    assert not walk.records(RecordKind.DEPLOYMENT_STARTED, "prod")

    def mailed() -> set[str]:
        return {
            address
            for m in read_mails(staged.maildir)
            if "stg-window 1.0.0 scheduled for" in str(m["Subject"])
            for _, address in getaddresses([str(v) for v in m.get_all("To", [])])
        }

    told = wait_for(lambda: mailed() >= {SAMPLE_OWNER, ONE, TWO} and mailed(), 30)
    assert THREE not in told  # only the owner and the approvers who approved it
    wait = (staged.opening - datetime.now(UTC)).total_seconds() + 60
    (_done,) = wait_for(lambda: walk.records(RecordKind.DEPLOYMENT_SUCCEEDED, "prod"), wait, 1)
    (started,) = walk.records(RecordKind.DEPLOYMENT_STARTED, "prod")
    assert started.at >= staged.opening  # delivered at the opening, not before
    assert scheduled.at < staged.opening
