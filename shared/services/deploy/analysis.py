"""Metric analysis at a rollout's gates: measure, record, decide.

The deployer calls ``AnalysisGate`` at two points: when a step is done (``begin``: the gate
before the next step starts measuring after the first interval, not after the whole bake) and
when a gated step's message arrives (``gate``). Each measurement is one message (``tick``): it
queries the metric provider (retrying a few times), judges every due check, records the run in
lineage, stores the tallies with the rollout (ETag) and either schedules the next measurement,
lets the step run (pass), has the step restored (fail) or pauses the rollout for an approver
(inconclusive) until a deadline after which it rolls back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from shared.domain.analysis.checks import AnalysisSettings, Check
from shared.domain.analysis.gates import analysed, provider_of, queries, start
from shared.domain.analysis.templates import Queries, UnsafeQueryValue
from shared.domain.analysis.verdict import Analysis, Measurement, Reading, Verdict, judge
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.state import DeploymentState
from shared.domain.deploy.steps import steps_for
from shared.domain.errors import Violation
from shared.domain.lineage.record import RecordKind
from shared.ports.approval import Teams
from shared.ports.metrics import MetricProvider, ProviderUnreachable, QueryRefused
from shared.services.deploy.analysis_notes import approver_note, evidence
from shared.services.deploy.records import DeploymentRecorder, tell

if TYPE_CHECKING:
    from shared.services.deploy.rollouts import DeployDeps

log = logging.getLogger(__name__)

Send = Callable[[DeploymentRequest, str, datetime | None], None]


@dataclass
class AnalysisDeps:
    provider_for: Callable[[DeploymentPlan], MetricProvider]
    teams: Teams | None = None
    attempts: int = 3  # per query, before a measurement counts as "provider unreachable"
    retry_pause: float = 0.5  # seconds, doubled after each attempt
    sleep: Callable[[float], None] = time.sleep


class GateStop(StrEnum):
    ANALYSING = "analysing"  # measured; the next measurement is scheduled
    PAUSED = "paused"  # inconclusive: waiting for an approver, then rolling back
    SKIPPED = "skipped"  # a repeated or early message


@dataclass(frozen=True)
class Gate:
    state: DeploymentState
    etag: str | None
    stop: GateStop | None = None  # return this outcome
    why: Violation | None = None  # restore the previous revision for this reason


def settings_of(deps: DeployDeps) -> AnalysisSettings | None:
    return deps.cell.analysis if deps.analysis is not None else None


def begin(
    deps: DeployDeps, plan: DeploymentPlan, state: DeploymentState, index: int, now: datetime
) -> DeploymentState:
    """Step ``index - 1`` is done: start the analysis of the gate before step ``index``."""
    settings = settings_of(deps)
    if settings is None or not analysed(plan, index):
        return state
    analysis = start(plan, settings, index, now, deps.time_scale)
    return state.analysing(plan.deployment_id, analysis, analysis.next_at(now, deps.time_scale))


class AnalysisGate:
    def __init__(
        self,
        deps: DeployDeps,
        request: DeploymentRequest,
        rec: DeploymentRecorder,
        send: Send,
    ) -> None:
        assert deps.analysis is not None
        self.deps, self.adeps = deps, deps.analysis
        self.request, self.rec, self.send = request, rec, send

    def gate(
        self, plan: DeploymentPlan, state: DeploymentState, etag: str | None, index: int
    ) -> Gate:
        settings = self.deps.cell.analysis
        rollout = state.rollout
        if settings is None or rollout is None or not analysed(plan, index):
            return Gate(state, etag)
        now, scale = self.deps.clock(), self.deps.time_scale
        a = rollout.analysis
        lost = a is None or a.step != index
        if a is None or a.step != index:
            # Begun before this region analysed (or the state lost it): measure once now,
            # whichever measurement this message was for; never skip the analysis.
            a = start(plan, settings, index, now, 0.0)
            a = a.model_copy(update={"tick": self.request.tick})
        if a.paused_until is not None:
            return self._paused(plan, state, etag, a, now)
        if self.request.tick < a.tick and not lost:
            # A measurement already taken and stored (a redelivery, or a failure after the
            # write): repeat its record and its consequence, never the measurement.
            decided = a.decided or a.verdict(now)
            self._record(plan, a, decided, a.tick - 1)
            if decided is Verdict.RUNNING:
                self._schedule(plan, index, a.tick, rollout.next_at)
                return Gate(state, etag, stop=GateStop.SKIPPED)
            return self._act(plan, state, etag, a, decided, tell=False)
        if self.request.tick > a.tick:
            return Gate(state, etag, stop=GateStop.SKIPPED)
        measured = a.record(self._measure(plan, settings, a, now), now)
        verdict = measured.verdict(now)
        measured = measured.model_copy(update={"decided": verdict})
        if verdict is Verdict.RUNNING:
            due = measured.next_at(now, scale)
            etag = self.deps.state.put(state.analysing(plan.deployment_id, measured, due), etag)
            self._record(plan, measured, verdict, a.tick)
            self._schedule(plan, index, measured.tick, due)
            return Gate(state, etag, stop=GateStop.ANALYSING)
        if verdict is Verdict.INCONCLUSIVE:
            policy = settings.for_tier(plan.metadata.risk_tier)
            until = now + timedelta(seconds=policy.decision_minutes * 60 * scale)
            measured = measured.model_copy(update={"paused_until": until})
            state = state.analysing(plan.deployment_id, measured, until)
        else:
            state = state.analysing(plan.deployment_id, measured, now)
        etag = self.deps.state.put(state, etag)
        self._record(plan, measured, verdict, a.tick)
        return self._act(plan, state, etag, measured, verdict, tell=True)

    def _act(
        self,
        plan: DeploymentPlan,
        state: DeploymentState,
        etag: str | None,
        a: Analysis,
        verdict: Verdict,
        *,
        tell: bool,
    ) -> Gate:
        """The consequence of a stored verdict: pass runs the step, fail restores, inconclusive
        waits for an approver until the deadline (whose message is sent again, same id)."""
        if verdict is Verdict.INCONCLUSIVE:
            self._schedule(plan, a.step, a.tick, a.paused_until, suffix="deadline")
            if tell:
                self._tell_approvers(plan, a, verdict)
            return Gate(state, etag, stop=GateStop.PAUSED)
        if verdict is Verdict.FAIL:
            if tell:
                self._tell_approvers(plan, a, verdict)
            failing = [m for m in a.last if m.outcome == "fail"]
            notes = "; ".join(f"{m.check}: {m.note}" for m in failing) or "checks failed"
            why = Violation(DeployCode.ANALYSIS_FAILED, f"Metric analysis failed: {notes}")
            return Gate(state, etag, why=why)
        return Gate(state, etag)

    # -- pause --------------------------------------------------------------------------------
    def _paused(
        self,
        plan: DeploymentPlan,
        state: DeploymentState,
        etag: str | None,
        a: Analysis,
        now: datetime,
    ) -> Gate:
        assert a.paused_until is not None
        if a.resumed_by is not None:
            return Gate(state, etag)
        if now >= a.paused_until:
            why = Violation(
                DeployCode.ANALYSIS_DEADLINE,
                "The metric analysis was inconclusive and no approver decided by "
                f"{a.paused_until:%Y-%m-%d %H:%M:%S} UTC; the previous version is restored.",
            )
            return Gate(state, etag, why=why)
        # early (a repeated message): repeat the pause's record and its deadline message (both
        # idempotent), in case the delivery that paused failed after storing the pause
        self._record(plan, a, Verdict.INCONCLUSIVE, a.tick - 1)
        self._schedule(plan, a.step, a.tick, a.paused_until, suffix="deadline")
        return Gate(state, etag, stop=GateStop.SKIPPED)

    # -- measuring ----------------------------------------------------------------------------
    def _measure(
        self, plan: DeploymentPlan, settings: AnalysisSettings, a: Analysis, now: datetime
    ) -> list[Measurement]:
        provider = self.adeps.provider_for(plan)
        interval_scale = self.deps.time_scale
        out: list[Measurement] = []
        for check in a.checks:
            if not a.due(check, now, check.interval_seconds * interval_scale):
                continue
            out.append(self._one(provider, plan, settings, a, check, now))
        return out

    def _one(
        self,
        provider: MetricProvider,
        plan: DeploymentPlan,
        settings: AnalysisSettings,
        a: Analysis,
        check: Check,
        now: datetime,
    ) -> Measurement:
        try:
            candidate, live = queries(plan, settings, a, check, now, self.deps.time_scale)
        except UnsafeQueryValue as exc:
            return judge(check, Reading(error=f"no query: {exc}"))
        asked = {"query": candidate.value, "samples_query": candidate.samples}
        if live is not None:
            asked["live_query"] = live.value
        m = judge(check, self._read(provider, candidate, live))
        return m.model_copy(update={"queries": asked})

    def _read(self, provider: MetricProvider, candidate: Queries, live: Queries | None) -> Reading:
        pause = self.adeps.retry_pause
        last: Exception | None = None
        for attempt in range(max(self.adeps.attempts, 1)):
            if attempt:
                self.adeps.sleep(pause)
                pause *= 2
            try:
                return Reading(
                    candidate=provider.run_query(candidate.value),
                    samples=provider.run_query(candidate.samples),
                    live=provider.run_query(live.value) if live is not None else None,
                )
            except QueryRefused as exc:
                return Reading(error=f"query refused: {exc}")
            except ProviderUnreachable as exc:
                last = exc
                log.warning("metric provider unreachable (attempt %d): %s", attempt + 1, exc)
        return Reading(error=f"after {self.adeps.attempts} attempts: {last}")

    # -- evidence and messages ----------------------------------------------------------------
    def _record(self, plan: DeploymentPlan, a: Analysis, verdict: Verdict, tick: int) -> None:
        step = steps_for(plan)[a.step]
        settings = self.deps.cell.analysis
        provider = provider_of(plan, settings).value if settings else ""
        self.rec.record(
            RecordKind.DEPLOYMENT_ANALYSED,
            f"analysis|{a.step}|{tick}",
            details=evidence(a, verdict, tick, step.name, provider),
        )

    def _schedule(
        self,
        plan: DeploymentPlan,
        index: int,
        tick: int,
        due: datetime | None,
        *,
        suffix: str = "",
    ) -> None:
        request = self.request.model_copy(update={"step": index, "tick": tick})
        name = f"{plan.deployment_id}-s{index}-" + (suffix or f"a{tick}")
        self.send(request, name, due)

    def _tell_approvers(self, plan: DeploymentPlan, a: Analysis, verdict: Verdict) -> None:
        policy = self.deps.cell.approval.for_tier(plan.metadata.risk_tier)
        to = [str(x) for x in policy.approvers]  # the owner hears from the rollback itself
        mail, card = approver_note(plan, a, verdict, to, self.deps.cell.function_app_url)
        tell(self.deps.mailer, mail)
        if self.adeps.teams is not None:
            try:
                self.adeps.teams.post(card)
            except Exception:  # a courtesy, like mail: logged, never changes the outcome
                log.warning("could not post the analysis card to Teams", exc_info=True)
