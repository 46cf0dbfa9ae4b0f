"""The expiry timer: tell owners before a trial phase expires, and retire it when it has.

Every run reads the region's deployment state. A shadow or canary rollout past its notice time
gets one notice: the lineage record's idempotency key is the claim, so however many timer runs
and hosts see it, only the one whose record was appended mails the owner. A rollout past its
expiry is retired per the region's policy: ``rollback`` queues the same rollback an approver
could ask for (the deployer aborts the rollout and restores the stable version, and records
it), ``promote`` queues the rollout's next step now instead of after its bake time. The
message ids are stable, so the bus drops the copies later runs send while the deployer has
not yet acted; the ``deployment.expired`` record is appended once.

A deployment to a non-production stage (nothing rolling out there) expires
``non_production_hours`` (or the owner's label) after it went live: one notice before, then
``deployment.expired``, the driver's ``remove`` (GitOps: the folder deleted in a commit;
Kubernetes: the model's objects in the stage's namespace; AML: the stage's deployment),
``deployment.removed`` (the stage's lineage ``live`` row goes) and the state row without a
live revision (``expired`` keeps it, so a promotion from it is refused with
CLR-DEPLOY-PROMOTION-EXPIRED). Every step is idempotent, so a run that stopped half way is
finished by the next one, on any host; the state row's ETag makes one run the last word.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from shared.domain.catalog import RegionEntry, UnknownStageError
from shared.domain.deploy import expiry
from shared.domain.deploy.plan import deployment_id_for, removal_plan
from shared.domain.deploy.promotion import stage_for_key
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import Revision
from shared.domain.deploy.state import DeploymentState, Rollout
from shared.domain.errors import Violation
from shared.domain.lineage.index import PRODUCTION_DETAIL
from shared.domain.lineage.record import (
    Actor,
    Correlation,
    LineageRecord,
    Reason,
    RecordKind,
)
from shared.ports.deploy import DeploymentStateStore, RemoverFactory, StateConflict
from shared.ports.lineage import LineageWriter
from shared.ports.mail import Mailer, OutboundMail
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.deploy.records import outcome_mail, tell
from shared.services.owner_mail import header_safe

log = logging.getLogger(__name__)
EXPIRED = "CLR-DEPLOY-EXPIRED"
EXPIRING = "CLR-DEPLOY-EXPIRING"


@dataclass
class ExpiryDeps:
    cell: RegionEntry
    state: DeploymentStateStore
    lineage: LineageWriter
    bus: MessageBus
    mailer: Mailer | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # the drivers' ``remove`` (None: non-production deployments are noticed, never removed)
    removers: RemoverFactory | None = None


class Swept(StrEnum):
    NOTIFIED = "notified"
    RETIRED = "retired"
    REMOVED = "removed"


def actor(region: str) -> Actor:
    return Actor(identity=f"clearance-expiry@{region}", established_by="system")


def sweep(deps: ExpiryDeps) -> dict[str, Swept]:
    """One timer run: what was noticed or retired now, by deployment id."""
    done: dict[str, Swept] = {}
    policy, now = deps.cell.expiry, deps.clock()
    for state in deps.state.list_region(deps.cell.name):
        if state.rollout is None and state.live is not None and deps.cell.staged:
            swept = _sweep_stage(state, deps, now)
            if swept is not None:
                done[state.live.deployment_id] = swept
            continue
        rollout = state.rollout
        if rollout is None or rollout.plan.is_rollback or rollout.plan.replaces is None:
            continue  # a first deployment or a rollback has no trial phase
        plan = rollout.plan
        deadline = expiry.phase_deadline(plan.metadata, plan.strategy, rollout.started_at, policy)
        action = expiry.decide(now, deadline, policy)
        if deadline is None or action is expiry.Action.NONE:
            continue
        if action is expiry.Action.NOTIFY:
            if _notify(rollout, deadline, deps):
                done[rollout.deployment_id] = Swept.NOTIFIED
        elif _retire(rollout, deadline, deps):
            done[rollout.deployment_id] = Swept.RETIRED
    return done


def _phase(rollout: Rollout) -> str:
    return rollout.plan.strategy.strategy


def _record(
    rollout: Rollout,
    kind: RecordKind,
    key: str,
    why: Violation,
    details: dict[str, str],
    deps: ExpiryDeps,
) -> bool:
    plan = rollout.plan
    return deps.lineage.append(
        LineageRecord(
            kind=kind,
            at=deps.clock(),
            region=plan.region,
            actor=actor(plan.region),
            artifact=plan.release.artifact,
            correlation=Correlation(
                approval_id=plan.release.approval_id, deployment_id=plan.deployment_id
            ),
            reasons=(Reason.of(why),),
            details=details,
        ),
        idempotency_key=f"{plan.deployment_id}|{key}",
    )


def _notify(rollout: Rollout, deadline: datetime, deps: ExpiryDeps) -> bool:
    plan, policy = rollout.plan, deps.cell.expiry
    then = "rolled back to the stable version" if policy.on_expiry == "rollback" else "promoted"
    why = Violation(
        EXPIRING,
        f"The {_phase(rollout)} phase of {plan.model} {plan.metadata.version} expires at "
        f"{deadline.isoformat()} and will then be {then}; finish or roll it back before, or "
        "push it again with a longer ai.clearance.expiry-hours within the region's limit.",
    )
    details = {"expires_at": deadline.isoformat(), "on_expiry": policy.on_expiry}
    if not _record(
        rollout, RecordKind.DEPLOYMENT_EXPIRY_NOTICE, "expiry-notice", why, details, deps
    ):
        return False  # another run or host gave the notice
    headline = f"The {_phase(rollout)} phase expires at {deadline:%Y-%m-%d %H:%M} UTC"
    tell(deps.mailer, outcome_mail([str(plan.metadata.owner)], plan, headline, (why,)))
    return True


def _retire(rollout: Rollout, deadline: datetime, deps: ExpiryDeps) -> bool:
    plan, policy = rollout.plan, deps.cell.expiry
    why = Violation(
        EXPIRED,
        f"The {_phase(rollout)} phase of {plan.model} {plan.metadata.version} expired at "
        f"{deadline.isoformat()} (started {rollout.started_at.isoformat()}); "
        + (
            "it is rolled back to the stable version."
            if policy.on_expiry == "rollback"
            else "its remaining steps run now."
        ),
    )
    if policy.on_expiry == "rollback":
        _queue_rollback(rollout, why, deps)
    else:
        _queue_next_step(rollout, deps)
    details = {
        "expired_at": deadline.isoformat(),
        "on_expiry": policy.on_expiry,
        "phase": _phase(rollout),
        "step_of": f"{rollout.next_step + 1}/{rollout.steps}",
    }
    key = "expired" if policy.on_expiry == "rollback" else f"expired|{rollout.next_step}"
    return _record(rollout, RecordKind.DEPLOYMENT_EXPIRED, key, why, details, deps)


def _queue_rollback(rollout: Rollout, why: Violation, deps: ExpiryDeps) -> None:
    plan = rollout.plan
    restoring = plan.replaces
    assert restoring is not None  # sweep skips first deployments
    request = DeploymentRequest(
        approval_id=restoring.approval_id,
        region=plan.region,
        artifact=restoring.artifact,
        metadata=restoring.metadata,
        approved_by=restoring.approved_by,
        approved_at=restoring.approved_at,
        rollback_of=plan.deployment_id,
        requested_by=actor(plan.region).identity,
        reason=why.message[:500],
    )
    deps.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=deployment_id_for(request.approval_id, plan.region, plan.deployment_id),
            subject=f"expired {plan.model}",
            application_properties={"region": plan.region, "rollback_of": plan.deployment_id},
        ),
    )


def _queue_next_step(rollout: Rollout, deps: ExpiryDeps) -> None:
    """The step message the bake time would have sent, now (the gate still checks health)."""
    plan = rollout.plan
    request = DeploymentRequest(
        approval_id=plan.release.approval_id,
        region=plan.region,
        artifact=plan.release.artifact,
        metadata=plan.metadata,
        approved_by=plan.release.approved_by,
        approved_at=plan.release.approved_at,
        step=rollout.next_step,
    )
    deps.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=f"{plan.deployment_id}-s{rollout.next_step}-expired",
            subject=f"expired {plan.model}",
            application_properties={"region": plan.region, "step": rollout.next_step},
        ),
    )


# -- non-production stages ------------------------------------------------------------------
def _non_production(deps: ExpiryDeps, key: str) -> str | None:
    """The non-production stage a state row belongs to, or None (production, unknown)."""
    name = stage_for_key(deps.cell, key)
    for stage in deps.cell.stage_list:
        if stage.name == name:
            return None if stage.production else stage.name
    return None


def _sweep_stage(state: DeploymentState, deps: ExpiryDeps, now: datetime) -> Swept | None:
    stage = _non_production(deps, state.model)
    live = state.live
    if stage is None or live is None or live.since is None:
        return None
    policy = deps.cell.expiry
    deadline = expiry.stage_deadline(live.metadata, live.since, production=False, policy=policy)
    action = expiry.decide(now, deadline, policy)
    if deadline is None or action is expiry.Action.NONE:
        return None
    if action is expiry.Action.NOTIFY:
        return Swept.NOTIFIED if _notify_stage(live, stage, deadline, deps) else None
    return _remove_stage(state.model, live.deployment_id, stage, deadline, deps)


def _stage_record(
    live: Revision,
    stage: str,
    kind: RecordKind,
    key: str,
    why: Violation,
    deps: ExpiryDeps,
    details: dict[str, str],
    where: dict[str, str] | None = None,
) -> bool:
    region = deps.cell.name
    return deps.lineage.append(
        LineageRecord(
            kind=kind,
            at=deps.clock(),
            region=region,
            actor=actor(region),
            artifact=live.artifact,
            correlation=Correlation(approval_id=live.approval_id, deployment_id=live.deployment_id),
            reasons=(Reason.of(why),),
            where=where or {},
            details={"stage": stage, PRODUCTION_DETAIL: "false", **details},
        ),
        idempotency_key=f"{live.deployment_id}|{key}",
    )


def _notify_stage(live: Revision, stage: str, deadline: datetime, deps: ExpiryDeps) -> bool:
    why = Violation(
        EXPIRING,
        f"{live.model} {live.metadata.version} in stage {stage} expires at "
        f"{deadline.isoformat()} and will then be removed from {stage}; promote it before, or "
        "push it again with a longer ai.clearance.expiry-hours within the region's limit.",
    )
    details = {"expires_at": deadline.isoformat(), "on_expiry": "remove"}
    if not _stage_record(
        live, stage, RecordKind.DEPLOYMENT_EXPIRY_NOTICE, "stage-expiry-notice", why, deps, details
    ):
        return False  # another run or host gave the notice
    headline = f"{live.model} in {stage} expires at {deadline:%Y-%m-%d %H:%M} UTC"
    tell(deps.mailer, _stage_mail(live, deps.cell.name, stage, headline, why))
    return True


def _remove_stage(
    key: str, deployment_id: str, stage: str, deadline: datetime, deps: ExpiryDeps
) -> Swept | None:
    if deps.removers is None:
        log.warning("%s (%s) expired in %s; no driver to remove it", key, deployment_id, stage)
        return None
    state, etag = deps.state.get(deps.cell.name, key)
    live = state.live
    if live is None or live.deployment_id != deployment_id or state.rollout is not None:
        return None  # changed since the listing: a new rollout, or another run removed it
    why = Violation(
        EXPIRED,
        f"{live.model} {live.metadata.version} in stage {stage} expired at "
        f"{deadline.isoformat()} (live since {live.since.isoformat() if live.since else '?'}); "
        f"it is removed from {stage}.",
    )
    details = {"expired_at": deadline.isoformat(), "on_expiry": "remove", "phase": "stage"}
    first = _stage_record(live, stage, RecordKind.DEPLOYMENT_EXPIRED, "stage-expired", why, deps,
                          details)  # fmt: skip
    plan = removal_plan(deps.cell, stage, live, actor(deps.cell.name).identity)
    try:
        report = deps.removers(plan.driver).remove(plan)
    except UnknownStageError:
        return None
    _stage_record(
        live,
        stage,
        RecordKind.DEPLOYMENT_REMOVED,
        "stage-removed",
        why,
        deps,
        {**report.details, "version": live.metadata.version},
        report.where,
    )
    try:
        deps.state.put(state.remove_expired(deployment_id), etag)
    except StateConflict:
        return None  # another run got there first (or a rollout began): the next run looks
    if first:
        headline = f"{live.model} {live.metadata.version} expired in {stage} and was removed"
        tell(deps.mailer, _stage_mail(live, deps.cell.name, stage, headline, why))
    return Swept.REMOVED


def _stage_mail(
    live: Revision, region: str, stage: str, headline: str, why: Violation
) -> OutboundMail:
    return OutboundMail(
        to=(str(live.metadata.owner),),
        subject=header_safe(f"Clearance: {headline} ({region})"),
        text="\n".join(
            [
                headline,
                "",
                f"Model: {live.model} {live.metadata.version}",
                f"Region: {region}, stage {stage}",
                "",
                f"- {why.code}: {why.message}",
            ]
        ),
        html=(
            f"<p>{html.escape(headline)}</p><p>Model: <code>{html.escape(live.model)} "
            f"{html.escape(live.metadata.version)}</code><br>Region: {html.escape(region)}, "
            f"stage {html.escape(stage)}</p><ul><li><code>{html.escape(why.code)}</code>: "
            f"{html.escape(why.message)}</li></ul>"
        ),
    )
