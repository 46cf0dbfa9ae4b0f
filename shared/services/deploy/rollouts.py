"""Deployment: an approved request becomes a rollout in this cell's region, step by step.

One message runs one step. The first message (step 0) plans the rollout, claims the model's
state and runs the first step; each later step arrives as a message scheduled after the
previous step's bake time. Redeliveries are harmless: a digest that is already live is not
rolled out again, a step that already ran is not run again, and every lineage record has an
idempotency key. A step that does not become healthy restores the previous revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.deploy.plan import DeploymentPlan, build_plan, deployment_id_for
from shared.domain.deploy.promotion import state_key
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import Revision, artifact_identity
from shared.domain.deploy.state import DeploymentState, Rollout
from shared.domain.deploy.steps import steps_for
from shared.domain.errors import TransientError, Violation
from shared.domain.lineage.record import RecordKind
from shared.ports.deploy import (
    DeployerFactory,
    DeploymentStateStore,
    Health,
    StepPending,
    StepReport,
)
from shared.ports.intake import RejectionRegistry
from shared.ports.lineage import LineageWriter
from shared.ports.mail import Mailer
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.deploy import analysis, stages
from shared.services.deploy.records import DeploymentRecorder, outcome_mail, tell
from shared.services.deploy.supply_chain import Recheck
from shared.services.intake.invariant import rejection_of

log = logging.getLogger(__name__)


@dataclass
class DeployDeps:
    cell: RegionEntry
    state: DeploymentStateStore
    drivers: DeployerFactory
    lineage: LineageWriter
    bus: MessageBus
    mailer: Mailer | None = None
    platform_email: str | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # host.json extensions.queues.maxDequeueCount == Service Bus max_delivery_count
    max_deliveries: int = 5
    busy_retry: timedelta = timedelta(minutes=5)
    max_waits: int = 288  # a day of waiting for another rollout of the same model
    rejections: RejectionRegistry | None = None
    analysis: analysis.AnalysisDeps | None = None  # metric analysis at the gates
    time_scale: float = 1.0  # bake times and analysis intervals (locally: seconds per minute)
    pending_retry: timedelta = timedelta(minutes=1)  # a step whose target is still working
    max_pending: int = 12  # then the step did not roll out in time
    # Re-verifies the image's signatures before every step (None: not checked).
    supply_chain: Callable[[DeploymentPlan], Recheck] | None = None


class DeployOutcome(StrEnum):
    STEPPED = "stepped"  # a step ran; the next one is scheduled
    SUCCEEDED = "succeeded"
    ALREADY_LIVE = "already-live"
    ROLLED_BACK = "rolled-back"
    FAILED = "failed"
    WAITING = "waiting"  # another rollout of the model is under way; retried later
    SCHEDULED = "scheduled"  # outside the stage's change window: due at its next opening
    PENDING = "pending"  # the step's target is still working; the same step runs again later
    SKIPPED = "skipped"  # a stale or repeated step message
    ANALYSING = "analysing"  # a gate measured the candidate; the next measurement is due
    PAUSED = "paused"  # the analysis was inconclusive; an approver decides (or it rolls back)


def handle_deployment_request(
    request: DeploymentRequest, deps: DeployDeps, *, delivery_count: int = 1
) -> DeployOutcome:
    """Run the step the message asks for. Raises ``TransientError`` for the platform to retry;
    on the last delivery it first records the failure and tells the owner."""
    run = _Run(request, deps, delivery_count)
    try:
        return run.handle()
    except Exception as exc:
        # TransientError, or an SDK error no adapter translated: on the last delivery the
        # rollout must not stay claimed ("rolling out") behind a dead-lettered message.
        if delivery_count >= deps.max_deliveries:
            run.give_up(exc)
        raise


class _Run:
    def __init__(self, request: DeploymentRequest, deps: DeployDeps, delivery: int) -> None:
        self.request, self.deps, self.delivery = request, deps, delivery
        self.deployment_id = deployment_id_for(
            request.approval_id, request.region, request.rollback_of, request.stage
        )
        self.key = request.metadata.name
        resolved = stages.stage_of(request, deps.cell)
        staged = deps.cell.staged
        if resolved is not None:
            self.key = state_key(deps.cell, request.metadata.name, request.stage)
            # The stage's targets and analysis in place of the region's.
            self.deps = deps = replace(deps, cell=deps.cell.for_stage(request.stage))
        self.rec = DeploymentRecorder(
            deps.lineage,
            request,
            self.deployment_id,
            deps.clock,
            stage=resolved.name if resolved is not None and staged else None,
            production=self.key == request.metadata.name,
        )

    # -- entry --------------------------------------------------------------------------------
    def handle(self) -> DeployOutcome:
        request, deps = self.request, self.deps
        if request.region != deps.cell.name:
            return self.fail(
                Violation(
                    DeployCode.WRONG_REGION,
                    f"The request is for {request.region}; this cell deploys to "
                    f"{deps.cell.name} only.",
                )
            )
        if stages.stage_of(request, deps.cell) is None:
            return self.fail(
                Violation(
                    DeployCode.UNKNOWN_STAGE,
                    f"{deps.cell.name} has no stage {request.stage!r}.",
                )
            )
        state, etag = deps.state.get(deps.cell.name, self.key)
        rollout = state.rollout
        refused = self._refuse_rejected(state, etag)
        if refused is not None:
            return refused
        if request.step > 0:
            return self._continue(state, etag)
        if rollout is not None and rollout.deployment_id == self.deployment_id:
            if rollout.next_step > 0:
                self._reschedule(rollout)
                return DeployOutcome.SKIPPED
            return self._run(rollout.plan, state, etag, 0)
        try:
            if request.rollback_of is not None:
                return self._rollback(state, etag)
            unverified = stages.previous_stage_problem(request, deps)
            if unverified is not None:
                return self.fail(unverified)
            if stages.queue_slot(request, self.deployment_id, state) == "superseded":
                return self._superseded(state)
            held = stages.window_hold(request, deps, self.rec, self._send)
            if isinstance(held, Violation):
                return self.fail(held)
            if held:
                return DeployOutcome.SCHEDULED
            if rollout is not None:
                return self._wait(rollout, state, etag)
            if state.is_live(artifact_identity(request.artifact)):
                self.rec.record(
                    RecordKind.DEPLOYMENT_SUCCEEDED,
                    "succeeded",
                    details={"status": "already live", "version": request.metadata.version},
                )
                return DeployOutcome.ALREADY_LIVE
            plan = build_plan(request, deps.cell, state.live)
        except PlanError as exc:
            return self.fail(exc.violation)
        return self._begin(plan, state, etag)

    def _refuse_rejected(self, state: DeploymentState, etag: str | None) -> DeployOutcome | None:
        """Before every step: an artifact rejected at intake (itself or through an index that
        contains it) is never deployed; a rollout of it under way is taken back."""
        rejected = rejection_of(
            self.deps.rejections, self.request.artifact, self.request.platform_digests
        )
        if rejected is None:
            return None
        why = Violation(
            DeployCode.ARTIFACT_REJECTED,
            f"Refused: {rejected.reason().message} (rejected artifact {rejected.rejected}).",
        )
        rollout = state.rollout
        if rollout is not None and rollout.deployment_id == self.deployment_id:
            step = f"refused before step {rollout.next_step + 1}/{rollout.steps}"
            self._roll_back(rollout.plan, state, etag, step, why, aborted=True)
        return self.fail(why)

    # -- rollout ------------------------------------------------------------------------------
    def _begin(
        self, plan: DeploymentPlan, state: DeploymentState, etag: str | None
    ) -> DeployOutcome:
        steps = steps_for(plan)
        rollout = Rollout(plan=plan, next_step=0, steps=len(steps), started_at=self.deps.clock())
        state = state.begin(rollout)
        etag = self.deps.state.put(state, etag)
        return self._run(plan, state, etag, 0)

    def _continue(self, state: DeploymentState, etag: str | None) -> DeployOutcome:
        rollout, step = state.rollout, self.request.step
        if rollout is None or rollout.deployment_id != self.deployment_id:
            log.info("%s step %d: the rollout is over or was aborted", self.deployment_id, step)
            return DeployOutcome.SKIPPED
        if rollout.next_step != step:
            if rollout.next_step > step:
                self._reschedule(rollout)
            return DeployOutcome.SKIPPED
        return self._run(rollout.plan, state, etag, step)

    def _run(
        self, plan: DeploymentPlan, state: DeploymentState, etag: str | None, index: int
    ) -> DeployOutcome:
        steps = steps_for(plan)
        step = steps[index]
        driver = self.deps.drivers(plan.driver)
        health: Health | None = None
        unreachable: TransientError | None = None
        if step.gated and index > 0 and self.deps.analysis is not None:
            gate = analysis.AnalysisGate(self.deps, self.request, self.rec, self._send)
            verdict = gate.gate(plan, state, etag, index)
            state, etag = verdict.state, verdict.etag
            if verdict.why is not None:
                return self._roll_back(plan, state, etag, step.name, verdict.why)
            if verdict.stop is not None:
                return DeployOutcome(verdict.stop.value)
        if step.gated and index > 0:
            try:
                health = driver.check_health(plan, index)
            except TransientError as exc:
                unreachable = exc
        supply = self._recheck(plan)
        if isinstance(supply, TransientError):
            unreachable, supply = unreachable or supply, None
        self.rec.record(
            RecordKind.DEPLOYMENT_STARTED,
            f"started|{index}|{self.delivery}",
            details={
                "step": step.name,
                "step_of": f"{index + 1}/{len(steps)}",
                "attempt": str(self.delivery),
                "driver": plan.driver.value,
                "strategy": plan.strategy.strategy,
                "version": plan.metadata.version,
                "replaces": plan.replaces.summary() if plan.replaces else "nothing",
                "rollback_of": plan.rollback_of or "",
                "health_gate": health.reason if health else str(unreachable or ""),
                "traffic": str(step.weight) if step.weight is not None else "",
                "supply_chain": supply.summary if supply else "",
            },
        )
        if unreachable is not None:
            raise unreachable
        if health is not None and not health.healthy:
            why = Violation(
                DeployCode.HEALTH_GATE, f"Health gate before {step.name}: {health.reason}"
            )
            return self._roll_back(plan, state, etag, step.name, why)
        try:
            if supply is not None and supply.violation is not None:
                raise PlanError(DeployCode.SUPPLY_CHAIN, supply.violation.message)
            report = driver.run_step(plan, index)
        except StepPending as exc:
            return self._pending(plan, state, etag, step.name, index, exc)
        except RolloutFailed as exc:
            return self._roll_back(plan, state, etag, step.name, exc.violation)
        except PlanError as exc:
            if index > 0:
                return self._roll_back(plan, state, etag, step.name, exc.violation)
            self.deps.state.put(state.restore(plan.release, plan.replaces, rollback=False), etag)
            return self.fail(exc.violation, plan)
        now = self.deps.clock()
        if step.serving:
            live = plan.release.model_copy(update={"since": now, "where": report.where})
            state = state.go_live(live, rollback=plan.is_rollback)
        if index + 1 < len(steps):
            due = now + timedelta(seconds=step.bake_seconds * self.deps.time_scale)
            state = state.advance(plan.deployment_id, due)
            state = analysis.begin(self.deps, plan, state, index + 1, now)
            self.deps.state.put(state, etag)
            assert state.rollout is not None
            self._reschedule(state.rollout)
            return DeployOutcome.STEPPED
        self.deps.state.put(state.finish(plan.deployment_id), etag)
        self._succeeded(plan, report)
        stages.after_success(self.request, self.deps, now)
        return DeployOutcome.SUCCEEDED

    def _recheck(self, plan: DeploymentPlan) -> Recheck | TransientError | None:
        """The supply-chain re-check of a forward rollout (a rollback restores what ran)."""
        if self.deps.supply_chain is None or plan.is_rollback:
            return None
        try:
            return self.deps.supply_chain(plan)
        except TransientError as exc:
            return exc

    def _succeeded(self, plan: DeploymentPlan, report: StepReport) -> None:
        replaced = plan.replaces
        details = {
            "version": plan.metadata.version,
            "identity": plan.release.identity,
            "strategy": plan.strategy.strategy,
            "workload": plan.release.workload,
            "replaced": replaced.summary() if replaced else "nothing",
            "rollback_of": plan.rollback_of or "",
            "requested_by": plan.requested_by or "",
        }
        if plan.is_rollback and replaced is not None:
            self.rec.record(
                RecordKind.DEPLOYMENT_ROLLED_BACK,
                "rolled_back",
                artifact=replaced.artifact,
                where=report.where,
                details={
                    **details,
                    "restored": plan.release.summary(),
                    "reason": self.request.reason or "",
                },
            )
        self.rec.record(
            RecordKind.DEPLOYMENT_SUCCEEDED, "succeeded", where=report.where, details=details
        )

    def _reschedule(self, rollout: Rollout) -> None:
        """Send the message of the rollout's next step, due after the bake time."""
        plan, index = rollout.plan, rollout.next_step
        if index >= rollout.steps:
            return
        now = self.deps.clock()
        due = rollout.next_at if rollout.next_at and rollout.next_at > now else None
        self._send(
            self.request.model_copy(update={"step": index, "tick": 0, "waits": 0}),
            f"{plan.deployment_id}-s{index}",
            due,
        )

    def _send(self, request: DeploymentRequest, message_id: str, due: datetime | None) -> None:
        self.deps.bus.send(
            DEPLOYMENT_REQUESTS,
            OutboundMessage(
                body=request.model_dump_json().encode(),
                message_id=message_id,
                subject=f"{request.metadata.name}:{request.metadata.version}",
                application_properties={
                    "region": request.region,
                    "approval_id": request.approval_id,
                    "step": request.step,
                },
                scheduled_enqueue_time=due,
            ),
        )

    def _pending(
        self,
        plan: DeploymentPlan,
        state: DeploymentState,
        etag: str | None,
        step: str,
        index: int,
        exc: StepPending,
    ) -> DeployOutcome:
        """The target is still working on the step: run the same step again in a while (a
        fresh function invocation, so no wait outlives functionTimeout), a bounded number of
        times; after that the step did not roll out in time."""
        request = self.request
        if request.waits >= self.deps.max_pending:
            why = Violation(
                DeployCode.TIMEOUT,
                f"{step} was still not finished after {request.waits + 1} waits: {exc}",
            )
            return self._roll_back(plan, state, etag, step, why)
        waits = request.waits + 1
        due = self.deps.clock() + self.deps.pending_retry
        self._send(
            request.model_copy(update={"waits": waits, "step": index}),
            f"{plan.deployment_id}-s{index}-p{waits}",
            due,
        )
        log.info("%s step %d pending (%d): %s", self.deployment_id, index, waits, exc)
        return DeployOutcome.PENDING

    def _superseded(self, state: DeploymentState) -> DeployOutcome:
        return self.fail(
            Violation(
                DeployCode.SUPERSEDED,
                f"A later approved deployment of {self.request.metadata.name} "
                f"({state.queued}) waits for this stage; it replaces this one.",
            )
        )

    def _take_over(self, rollout: Rollout, state: DeploymentState, etag: str | None) -> None:
        """The rollout's lease ran out: restore what it replaced, recorded on its own
        deployment, so the model's queue moves on."""
        release = rollout.plan.release
        stale = DeploymentRequest(
            approval_id=release.approval_id,
            region=self.request.region,
            artifact=release.artifact,
            metadata=release.metadata,
            approved_by=release.approved_by,
            approved_at=release.approved_at,
            stage=self.request.stage,
        )
        why = Violation(
            DeployCode.LEASE_EXPIRED,
            f"Its step was overdue by more than {stages.LEASE}; taken back so "
            f"{self.deployment_id} can roll out.",
        )
        step = f"lease expired before step {rollout.next_step + 1}/{rollout.steps}"
        _Run(stale, self.deps, 1)._roll_back(rollout.plan, state, etag, step, why)

    def _wait(
        self, rollout: Rollout, state: DeploymentState | None = None, etag: str | None = None
    ) -> DeployOutcome:
        request = self.request
        if state is not None and request.rollback_of is None:
            if stages.lease_expired(rollout, self.deps.clock()):
                self._take_over(rollout, state, etag)
                return self.handle()
            if state.queued != self.deployment_id:
                # Take the queue slot (ETag: two waiters cannot both hold it); the deployment
                # that held it learns it is superseded when its next wait message arrives.
                self.deps.state.put(state.enqueue(self.deployment_id, request.approved_at), etag)
        if request.waits >= self.deps.max_waits:
            return self.fail(
                Violation(
                    DeployCode.WAITED_TOO_LONG,
                    f"Another rollout of {request.metadata.name} ({rollout.deployment_id}) "
                    "did not finish in time; approve again once it is over.",
                )
            )
        waits = request.waits + 1
        due = self.deps.clock() + self.deps.busy_retry
        self._send(
            request.model_copy(update={"waits": waits}), f"{self.deployment_id}-w{waits}", due
        )
        log.info("%s waits for %s (%d)", self.deployment_id, rollout.deployment_id, waits)
        return DeployOutcome.WAITING

    # -- rollback -----------------------------------------------------------------------------
    def _rollback(self, state: DeploymentState, etag: str | None) -> DeployOutcome:
        request, rollout = self.request, state.rollout
        if rollout is not None and rollout.deployment_id == request.rollback_of:
            plan = rollout.plan
            why = Violation(
                DeployCode.REJECTED,
                f"Rollback requested by {request.requested_by or 'an approver'}"
                + (f": {request.reason}" if request.reason else ""),
            )
            step = f"aborted before step {rollout.next_step + 1}/{rollout.steps}"
            return self._roll_back(plan, state, etag, step, why, aborted=True)
        if rollout is not None:
            return self._wait(rollout)
        live, previous = state.live, state.previous
        if live is None or live.deployment_id != request.rollback_of:
            raise PlanError(
                DeployCode.STALE_ROLLBACK,
                f"{request.rollback_of} is no longer live; nothing was changed.",
            )
        if previous is None or previous.identity != artifact_identity(request.artifact):
            raise PlanError(
                DeployCode.NOTHING_TO_RESTORE,
                "The revision to restore is no longer the previous one; nothing was changed.",
            )
        return self._begin(build_plan(request, self.deps.cell, live, previous), state, etag)

    def _roll_back(
        self,
        plan: DeploymentPlan,
        state: DeploymentState,
        etag: str | None,
        step: str,
        why: Violation,
        *,
        aborted: bool = False,
    ) -> DeployOutcome:
        driver = self.deps.drivers(plan.driver)
        restored = plan.replaces.summary() if plan.replaces else "nothing (first deployment)"
        try:
            report = driver.restore(plan)
        except (RolloutFailed, PlanError) as exc:
            self.deps.state.put(
                state.restore(plan.release, plan.replaces, rollback=plan.is_rollback), etag
            )
            return self.fail(
                why,
                plan,
                extra=(exc.violation,),
                headline="Deployment failed and the previous version could not be restored",
            )
        self.deps.state.put(
            state.restore(plan.release, plan.replaces, rollback=plan.is_rollback), etag
        )
        self.rec.record(
            RecordKind.DEPLOYMENT_ROLLED_BACK,
            "rolled_back",
            reasons=(why,),
            artifact=plan.release.artifact,
            where=report.where,
            details={
                "step": step,
                "restored": restored,
                "automatic": "false" if aborted else "true",
                "requested_by": (self.request.requested_by or "") if aborted else "",
            },
        )
        if not aborted:
            tell(
                self.deps.mailer,
                outcome_mail(
                    self._owners(plan.release),
                    plan,
                    f"Deployment rolled back; {restored} serves again",
                    (why,),
                ),
            )
        return DeployOutcome.ROLLED_BACK

    # -- failures -----------------------------------------------------------------------------
    def fail(
        self,
        why: Violation,
        plan: DeploymentPlan | None = None,
        *,
        extra: tuple[Violation, ...] = (),
        headline: str = "Deployment failed",
    ) -> DeployOutcome:
        self.rec.record(RecordKind.DEPLOYMENT_FAILED, "failed", reasons=(why, *extra))
        owners = [str(self.request.metadata.owner)]
        if extra and self.deps.platform_email:
            owners.append(self.deps.platform_email)
        tell(self.deps.mailer, outcome_mail(owners, plan or self.request, headline, (why, *extra)))
        return DeployOutcome.FAILED

    def give_up(self, exc: Exception) -> None:
        """The last delivery failed (transiently, or with an error nobody translated): record
        why, release the model, tell people. The message then goes to the dead-letter queue
        with the same cause."""
        why = Violation(
            DeployCode.DEAD_LETTERED,
            f"Gave up after {self.delivery} deliveries (the message is dead-lettered): {exc}",
        )
        try:
            self.rec.record(
                RecordKind.DEPLOYMENT_FAILED,
                f"failed|dead-letter|{self.request.step}",
                reasons=(why,),
            )
        except Exception:  # noqa: BLE001 - giving up: release the model whatever lineage does
            log.error("%s: lineage unavailable while giving up: %s", self.deployment_id, exc)
        try:
            self._release()
        except Exception as release_error:  # noqa: BLE001 - logged; the message dead-letters
            log.error("%s: could not release the rollout: %s", self.deployment_id, release_error)
        to = [str(self.request.metadata.owner)]
        if self.deps.platform_email:
            to.append(self.deps.platform_email)
        tell(self.deps.mailer, outcome_mail(to, self.request, "Deployment gave up", (why,)))

    def _release(self) -> None:
        state, etag = self.deps.state.get(self.deps.cell.name, self.key)
        rollout = state.rollout
        if rollout is None or rollout.deployment_id != self.deployment_id:
            return
        plan = rollout.plan
        try:
            self.deps.drivers(plan.driver).restore(plan)
        except Exception as exc:  # noqa: BLE001 - giving up: the model must be released anyway
            log.error("%s: restore while giving up failed: %s", self.deployment_id, exc)
        self.deps.state.put(
            state.restore(plan.release, plan.replaces, rollback=plan.is_rollback), etag
        )

    def _owners(self, release: Revision) -> list[str]:
        return [str(release.metadata.owner)]


def reject_unreadable(message_id: str, error: Exception, deps: DeployDeps) -> None:
    """A message that is not a deployment request: recorded once, never retried."""
    from shared.domain.lineage.record import ArtifactRef, Correlation, LineageRecord, Reason
    from shared.services.deploy.records import deployer_actor

    reason = Reason(code=DeployCode.BAD_ARTIFACT, message=f"Unreadable request: {error}"[:1000])
    deps.lineage.append(
        LineageRecord(
            kind=RecordKind.DEPLOYMENT_FAILED,
            at=deps.clock(),
            region=deps.cell.name,
            actor=deployer_actor(deps.cell.name),
            artifact=ArtifactRef(kind="unknown"),
            correlation=Correlation(event_id=message_id),
            reasons=(reason,),
        ),
        idempotency_key=f"unreadable|{message_id}",
    )
    log.error("deployment message %s is unreadable: %s", message_id, error)
