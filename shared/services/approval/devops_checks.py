"""Azure DevOps checks gated on Clearance's decision for an image in this region.

``receive`` answers the check's request at once: it authenticates the caller, validates the
request (PlanUrl against the allowed organisations), records the check once and, when the
approval is already final, calls back immediately. ``sweep`` (a timer) calls back every open
check whose approval was decided since: approved → succeeded; rejected, expired, superseded or
cancelled → failed. A check whose approval does not exist yet (the push is still in intake)
stays open until it does. The decision services are not touched: the approval record is the
fact the sweep reads, so no decision path needs to know about Azure DevOps.

Authentication: the Function's key (``x-functions-key``, the platform's check) and the cell's
check secret in ``X-Clearance-Check-Key``, compared in constant time. Azure DevOps cannot sign
a body, so the secret sits in a Key Vault-backed variable group that only the check reads.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain import bounded_json
from shared.domain.approval.devops import (
    MAX_BODY_BYTES,
    CheckRefused,
    CheckRequest,
    Result,
    parse_check,
    result_for,
)
from shared.domain.approval.record import approval_id_for
from shared.domain.catalog import RegionEntry
from shared.domain.errors import TerminalError, TransientError
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    RecordKind,
)
from shared.ports.approval import ApprovalStore
from shared.ports.devops import PendingChecks, PipelineCallbacks
from shared.ports.lineage import LineageWriter

log = logging.getLogger(__name__)
SECRET_HEADER = "x-clearance-check-key"  # noqa: S105 - a header name, not a secret
MIN_SECRET_LENGTH = 32


@dataclass
class CheckDeps:
    cell: RegionEntry
    approvals: ApprovalStore
    checks: PendingChecks
    callbacks: PipelineCallbacks
    secret: str | None
    allowed: tuple[str, ...]
    lineage: LineageWriter | None = None  # records which pipeline run got which answer
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class CheckAnswer:
    status: int
    doc: dict[str, str]


def receive(headers: dict[str, str], body: bytes, deps: CheckDeps) -> CheckAnswer:
    """Answer one check request (``headers`` with lower-case names)."""
    if not deps.secret or len(deps.secret) < MIN_SECRET_LENGTH or not deps.allowed:
        return CheckAnswer(503, {"error": "Azure DevOps checks are not configured in this cell."})
    presented = headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(presented.encode(), deps.secret.encode()):
        return CheckAnswer(401, {"error": "The check's key is missing or wrong."})
    if len(body) > MAX_BODY_BYTES:
        return CheckAnswer(413, {"error": f"The body is limited to {MAX_BODY_BYTES} bytes."})
    try:
        doc = bounded_json.loads(body or b"{}", max_bytes=MAX_BODY_BYTES, max_depth=4)
        check = parse_check(headers, doc, deps.allowed)
    except CheckRefused as exc:
        return CheckAnswer(exc.status, {"error": str(exc)})
    except ValueError:
        return CheckAnswer(400, {"error": "The body is not JSON."})
    if check.registry != deps.cell.registry.login_server:
        return CheckAnswer(
            400,
            {"error": f"This cell decides for images of {deps.cell.registry.login_server} only."},
        )
    approval_id = approval_id_for(_artifact(check), deps.cell.name)
    new = deps.checks.add(approval_id, check)
    result = _decided(approval_id, deps)
    if result is not None and _call_back(approval_id, check, result, deps):
        return CheckAnswer(200, {"status": "decided", "result": result, "check": check.check_id})
    return CheckAnswer(
        200, {"status": "pending" if new else "already pending", "check": check.check_id}
    )


def sweep(deps: CheckDeps) -> int:
    """Call back every open check whose approval is final; how many were completed."""
    done = 0
    for approval_id, check in deps.checks.pending():
        result = _decided(approval_id, deps)
        if result is not None and _call_back(approval_id, check, result, deps):
            done += 1
    return done


def _artifact(check: CheckRequest) -> ArtifactRef:
    return ArtifactRef(
        kind="image", registry=check.registry, repository=check.repository, digest=check.digest
    )


def _decided(approval_id: str, deps: CheckDeps) -> Result | None:
    try:
        approval, _ = deps.approvals.get(approval_id)
    except TerminalError:
        return None  # not (yet) requested: the push may still be in intake
    except ValueError as exc:  # a record edited behind the app's back: never a decision
        log.error("approval %s does not decode: %s", approval_id, exc)
        return None
    return result_for(approval.state)


def _call_back(approval_id: str, check: CheckRequest, result: Result, deps: CheckDeps) -> bool:
    """True when the check is complete (called back, or refused for good by Azure DevOps)."""
    try:
        deps.callbacks.task_completed(check, result)
    except TransientError as exc:
        log.warning("check %s: callback failed, retried by the next sweep: %s", check.check_id, exc)
        return False
    except TerminalError as exc:
        log.error("check %s: Azure DevOps refused the callback: %s", check.check_id, exc)
        refused = str(exc)
    else:
        refused = ""
    # Recorded before the row is closed: a failure in between calls back once more (harmless,
    # Azure DevOps takes the first answer) and the record stays one (idempotency key).
    _record(approval_id, check, result, refused, deps)
    deps.checks.complete(approval_id, check.check_id, result)
    return True


def _record(
    approval_id: str, check: CheckRequest, result: Result, refused: str, deps: CheckDeps
) -> None:
    """The pipeline run's answer, on the artifact's chain (once per check)."""
    if deps.lineage is None:
        return
    details = {
        "organisation": check.plan_url,
        "project_id": check.project_id,
        "plan_id": check.plan_id,
        "job_id": check.job_id,
        "result": result,
        "callback": f"refused: {refused}"[:500] if refused else "delivered",
    }
    deps.lineage.append(
        LineageRecord(
            kind=RecordKind.PIPELINE_CHECK_COMPLETED,
            at=deps.clock(),
            region=deps.cell.name,
            actor=Actor(identity=f"clearance-checks@{deps.cell.name}", established_by="system"),
            artifact=_artifact(check),
            correlation=Correlation(event_id=check.check_id, approval_id=approval_id),
            details=details,
        ),
        idempotency_key=f"{check.check_id}|completed",
    )
