"""The Azure DevOps check on the local stack: the real host's endpoint, the real approval flow,
the real callback to the local Azure DevOps stand-in (shared/local/devops_sink.py)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from shared.composition import Container
from shared.domain.approval.record import ApprovalState
from shared.domain.lineage.record import RecordKind
from shared.local.devops_sink import read_events
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from tests.conftest import wait_for
from tests.integration.approval_flow import Flow, vote

pytestmark = pytest.mark.stack
ONE, TWO = SAMPLE_APPROVERS


def _check(
    stack: LocalStack, flow: Flow, *, secret: str | None = None, plan_url: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    ids = {k: str(uuid.uuid4()) for k in ("ProjectId", "PlanId", "JobId", "TimelineId")}
    ids["TaskInstanceId"] = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-Clearance-Check-Key": stack.devops_check_secret() if secret is None else secret,
        "PlanUrl": plan_url or stack.devops_org_url,
        "HubName": "build",
        "AuthToken": f"token-{ids['JobId']}",
        **ids,
    }
    body = json.dumps(
        {"image": f"{flow.artifact.registry}/{flow.artifact.repository}@{flow.pushed.digest}"}
    ).encode()
    request = urllib.request.Request(
        f"{stack.host_url('westeurope')}/api/devops/checks",
        data=body,
        method="POST",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read()), ids
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), ids


def _events_for(stack: LocalStack, ids: dict[str, str]) -> list[dict[str, Any]]:
    return [e for e in read_events(stack.devops_store) if e["body"]["jobId"] == ids["JobId"]]


def test_request_pending_decision_callback_and_an_immediate_one_after(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "ado-gated", "1.0.0")
    flow.wait_open()

    status, doc, ids = _check(hosts, flow)
    assert (status, doc["status"]) == (200, "pending")
    again, doc2, ids2 = _check(hosts, flow)  # another run of the pipeline: its own check
    assert again == 200 and doc2["check"] != doc["check"]
    vote(flow, ONE)
    vote(flow, TWO)
    assert flow.approval().state is ApprovalState.APPROVED

    (event,) = wait_for(lambda: _events_for(hosts, ids), timeout=90)
    assert event["path"] == (
        f"/local-org/{ids['ProjectId']}/_apis/distributedtask/hubs/build/plans/"
        f"{ids['PlanId']}/events"
    )
    assert event["query"] == "api-version=2.0-preview.1"
    token = f":token-{ids['JobId']}".encode()
    assert event["authorization"] == "Basic " + base64.b64encode(token).decode()
    assert event["body"] == {
        "name": "TaskCompleted",
        "taskId": ids["TaskInstanceId"],
        "jobId": ids["JobId"],
        "result": "succeeded",
    }

    completed = wait_for(
        lambda: len(found := flow.records(RecordKind.PIPELINE_CHECK_COMPLETED)) >= 2 and found,
        timeout=90,
    )
    assert sorted(r.details["plan_id"] for r in completed) == sorted(
        [ids["PlanId"].lower(), ids2["PlanId"].lower()]
    )
    assert {r.details["result"] for r in completed} == {"succeeded"}

    status, doc, late = _check(hosts, flow)  # decided already: called back at once
    assert (status, doc["status"], doc["result"]) == (200, "decided", "succeeded")
    assert len(_events_for(hosts, late)) == 1


def test_a_rejected_approval_fails_the_check(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "ado-rejected", "1.0.0")
    flow.wait_open()
    _, doc, ids = _check(hosts, flow)
    assert doc["status"] == "pending"

    vote(flow, ONE, "reject", reason="not this one")

    (event,) = wait_for(lambda: _events_for(hosts, ids), timeout=90)
    assert event["body"]["result"] == "failed"


def test_forged_and_foreign_requests_are_refused(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "ado-forged", "1.0.0")
    flow.wait_open()

    status, doc, ids = _check(hosts, flow, secret="not-the-secret")
    assert status == 401 and "key" in doc["error"]
    status, doc, ids2 = _check(hosts, flow, plan_url="http://169.254.169.254/metadata/")
    assert status == 403 and "PlanUrl" in doc["error"]
    vote(flow, ONE, "reject", reason="done")
    assert flow.approval().state is ApprovalState.REJECTED
    status, doc, decided = _check(hosts, flow)  # a valid check sees the decision
    assert (status, doc["result"]) == (200, "failed")
    assert [e["body"]["result"] for e in _events_for(hosts, decided)] == ["failed"]
    assert _events_for(hosts, ids) == [] and _events_for(hosts, ids2) == []
