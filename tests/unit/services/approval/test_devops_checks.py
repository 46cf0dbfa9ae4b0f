"""The Azure DevOps check contract over real HTTP: request -> pending -> decision -> callback.

The callback goes through the real adapter to the local Azure DevOps stand-in
(shared/local/devops_sink.py), which keeps the URL, query, Authorization header and body.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.devops.callbacks import HttpPipelineCallbacks
from shared.domain.approval.devops import plan_url_allowed
from shared.domain.approval.record import Approval, ApprovalState, approval_id_for
from shared.domain.catalog import RegionEntry
from shared.domain.lineage.record import ArtifactRef, RecordKind
from shared.local.devops_sink import make_server, read_events
from shared.services.approval.devops_checks import CheckDeps, receive, sweep
from tests.support import deploy_samples as s
from tests.support.approval_fakes import FakeApprovalStore
from tests.support.devops_fakes import IDS, SECRET, MemoryChecks
from tests.support.fakes import FakeLineage

DIGEST = "sha256:" + "ab" * 32
T0 = datetime(2026, 12, 2, 12, tzinfo=UTC)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    store = tmp_path / "devops"
    server = make_server("127.0.0.1", 0, store, refuse_tokens=frozenset({"expired-token"}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/contoso/", store
    server.shutdown()


@pytest.fixture
def deps(cell: RegionEntry, sink: tuple[str, Path]) -> CheckDeps:
    return CheckDeps(
        cell=cell,
        approvals=FakeApprovalStore(),
        checks=MemoryChecks(),
        callbacks=HttpPipelineCallbacks(timeout=5),
        secret=SECRET,
        allowed=(sink[0],),
        lineage=FakeLineage(),
    )


def _headers(plan_url: str, **overrides: str) -> dict[str, str]:
    headers = {
        "x-clearance-check-key": SECRET,
        "planurl": plan_url,
        "hubname": "build",
        "authtoken": "job-token-123",
        **IDS,
    }
    headers.update({k.lower(): v for k, v in overrides.items()})
    return headers


def _body(cell: RegionEntry, digest: str = DIGEST) -> bytes:
    return f'{{"image": "{cell.registry.login_server}/models/fraud-detector@{digest}"}}'.encode()


def _approval(cell: RegionEntry, state: ApprovalState) -> Approval:
    artifact = ArtifactRef(
        kind="image",
        registry=cell.registry.login_server,
        repository="models/fraud-detector",
        digest=DIGEST,
    )
    return Approval(
        approval_id=approval_id_for(artifact, cell.name),
        region=cell.name,
        artifact=artifact,
        metadata=s.image_metadata(),
        approvers=("approver.one@contoso.example", "approver.two@contoso.example"),
        min_approvals=2,
        require_sign_in=False,
        created_at=T0,
        expires_at=T0 + timedelta(hours=72),
        state=state,
    )


def _decide(deps: CheckDeps, state: ApprovalState) -> None:
    store: Any = deps.approvals
    approval = _approval(deps.cell, ApprovalState.PENDING)
    if approval.approval_id not in store.records:
        store.create(approval)
    current, etag = store.get(approval.approval_id)
    assert store.replace(current.model_copy(update={"state": state}), etag)


def test_pending_then_approved_calls_back_succeeded_with_the_contract(
    deps: CheckDeps, sink: tuple[str, Path]
) -> None:
    plan_url, store = sink
    deps.approvals.create(_approval(deps.cell, ApprovalState.PENDING))

    answer = receive(_headers(plan_url), _body(deps.cell), deps)
    assert (answer.status, answer.doc["status"]) == (200, "pending")
    assert sweep(deps) == 0 and read_events(store) == []

    _decide(deps, ApprovalState.APPROVED)
    assert sweep(deps) == 1
    assert sweep(deps) == 0  # called back once
    (event,) = read_events(store)
    assert event["path"] == (
        f"/contoso/{IDS['projectid']}/_apis/distributedtask/hubs/build/plans/{IDS['planid']}/events"
    )
    assert event["query"] == "api-version=2.0-preview.1"
    assert event["authorization"] == "Basic " + base64.b64encode(b":job-token-123").decode()
    assert event["content_type"] == "application/json"
    assert event["body"] == {
        "name": "TaskCompleted",
        "taskId": IDS["taskinstanceid"],
        "jobId": IDS["jobid"],
        "result": "succeeded",
    }
    lineage: Any = deps.lineage
    (record,) = lineage.records  # the pipeline run's answer, on the artifact's chain
    assert record.kind is RecordKind.PIPELINE_CHECK_COMPLETED
    assert record.artifact.digest == DIGEST
    assert record.details["plan_id"] == IDS["planid"] and record.details["result"] == "succeeded"
    assert record.details["callback"] == "delivered"
    assert "job-token-123" not in record.model_dump_json()  # the token is never recorded


@pytest.mark.parametrize(
    "state", [ApprovalState.REJECTED, ApprovalState.EXPIRED, ApprovalState.SUPERSEDED]
)
def test_a_rejected_or_expired_approval_fails_the_check(
    deps: CheckDeps, sink: tuple[str, Path], state: ApprovalState
) -> None:
    receive(_headers(sink[0]), _body(deps.cell), deps)  # before intake opened the approval
    assert sweep(deps) == 0
    _decide(deps, state)

    assert sweep(deps) == 1
    assert [e["body"]["result"] for e in read_events(sink[1])] == ["failed"]


def test_an_already_decided_approval_calls_back_at_once(
    deps: CheckDeps, sink: tuple[str, Path]
) -> None:
    _decide(deps, ApprovalState.APPROVED)

    answer = receive(_headers(sink[0]), _body(deps.cell), deps)

    assert answer.doc["status"] == "decided" and answer.doc["result"] == "succeeded"
    assert len(read_events(sink[1])) == 1
    assert sweep(deps) == 0


def test_duplicate_check_requests_are_recorded_and_called_back_once(
    deps: CheckDeps, sink: tuple[str, Path]
) -> None:
    first = receive(_headers(sink[0]), _body(deps.cell), deps)
    second = receive(_headers(sink[0]), _body(deps.cell), deps)

    assert (first.doc["status"], second.doc["status"]) == ("pending", "already pending")
    assert first.doc["check"] == second.doc["check"]
    assert len(deps.checks.pending()) == 1
    _decide(deps, ApprovalState.APPROVED)
    assert sweep(deps) == 1 and len(read_events(sink[1])) == 1


@pytest.mark.parametrize("key", [None, "", "wrong", SECRET[:-1], SECRET + "x"])
def test_a_forged_or_unsigned_request_is_refused_and_nothing_is_recorded(
    deps: CheckDeps, sink: tuple[str, Path], key: str | None
) -> None:
    headers = _headers(sink[0])
    if key is None:
        del headers["x-clearance-check-key"]
    else:
        headers["x-clearance-check-key"] = key

    assert receive(headers, _body(deps.cell), deps).status == 401
    assert deps.checks.pending() == []


@pytest.mark.parametrize(
    "plan_url",
    [
        "https://evil.example/contoso/",
        "http://127.0.0.1:1/contoso/",  # another port of the loopback
        "http://169.254.169.254/metadata/",
        "https://dev.azure.com.evil.example/contoso/",
        "http://user@127.0.0.1/contoso/",
        "{base}../other/",
        "{base}?x=1",
        "{base}#frag",
        "{base}sub/",
        "file:///etc/passwd",
        "https://dev.azure.com/contoso\u2044/",
    ],
)
def test_a_plan_url_outside_the_allowed_organisations_is_refused(
    deps: CheckDeps, sink: tuple[str, Path], plan_url: str
) -> None:
    url = plan_url.format(base=sink[0])

    answer = receive(_headers(url), _body(deps.cell), deps)

    assert answer.status == 403, url
    assert deps.checks.pending() == [] and read_events(sink[1]) == []


def test_only_https_organisations_are_allowed_beyond_the_loopback() -> None:
    allowed = ("https://dev.azure.com/contoso/",)
    assert plan_url_allowed("https://dev.azure.com/contoso/", allowed)
    assert plan_url_allowed("https://DEV.azure.com/Contoso", allowed)
    assert not plan_url_allowed("http://dev.azure.com/contoso/", allowed)
    assert not plan_url_allowed("https://dev.azure.com/contoso2/", allowed)


@pytest.mark.parametrize(
    ("override", "body"),
    [
        ({"planid": "not-a-guid"}, None),
        ({"hubname": "build/../x"}, None),
        ({"authtoken": "tok en"}, None),
        ({"authtoken": "t" * 9000}, None),
        ({}, b'{"image": "other.azurecr.io/models/x@sha256:' + b"ab" * 32 + b'"}'),
        ({}, b'{"image": "fraud-detector:latest"}'),
        ({}, b"not json"),
        ({}, b'{"image": ' * 50),
        ({}, b"{" + b" " * 5000 + b"}"),
    ],
)
def test_malformed_requests_get_a_clear_4xx_and_record_nothing(
    deps: CheckDeps, sink: tuple[str, Path], override: dict[str, str], body: bytes | None
) -> None:
    answer = receive(_headers(sink[0], **override), body or _body(deps.cell), deps)

    assert 400 <= answer.status < 500 and answer.doc["error"]
    assert deps.checks.pending() == []


def test_without_a_secret_the_endpoint_is_closed(deps: CheckDeps, sink: tuple[str, Path]) -> None:
    deps.secret = None

    assert receive(_headers(sink[0]), _body(deps.cell), deps).status == 503


def test_a_callback_refused_for_good_completes_and_one_that_failed_is_retried(
    deps: CheckDeps, sink: tuple[str, Path], tmp_path: Path
) -> None:
    receive(_headers(sink[0], AuthToken="expired-token"), _body(deps.cell), deps)
    _decide(deps, ApprovalState.APPROVED)
    assert sweep(deps) == 1  # 401: nothing will change; not retried forever
    assert deps.checks.pending() == []
    lineage: Any = deps.lineage
    assert lineage.records[-1].details["callback"].startswith("refused: ")

    other = {**IDS, "taskinstanceid": "66666666-6666-6666-6666-666666666666"}
    deps.allowed = (*deps.allowed, "http://127.0.0.1:9/down/")
    receive(_headers("http://127.0.0.1:9/down/", **other), _body(deps.cell), deps)
    assert len(deps.checks.pending()) == 1  # nobody listens on port 9: kept for the next sweep
    assert sweep(deps) == 0 and len(deps.checks.pending()) == 1
