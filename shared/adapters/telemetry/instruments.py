"""Clearance's metrics: one OpenTelemetry name per instrument, the same in Application Insights
(customMetrics) and in the local Prometheus (dots become underscores; counters get ``_total``,
seconds get ``_seconds``; see docs/operators.md).

Every label comes from a closed set: record kinds, rejection codes of the intake's and the
deployer's code lists, rollout strategies, verdicts, queue names. Whatever else an outsider can
write (tags, digests, repositories, messages) is never a label, so cardinality stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from shared.domain.analysis.verdict import Verdict
from shared.domain.deploy.codes import DeployCode
from shared.domain.intake.codes import IntakeCode
from shared.domain.lineage.record import LineageRecord, RecordKind
from shared.queues import ALL_QUEUES

EVENTS = "clearance.events"
APPROVAL_REQUEST_LATENCY = "clearance.intake.approval_request_latency"
APPROVAL_DECISIONS = "clearance.approvals.decisions"
TIME_TO_DECISION = "clearance.approvals.time_to_decision"
ROLLOUTS = "clearance.rollouts"
ANALYSIS_VERDICTS = "clearance.analysis.verdicts"
INVOCATIONS = "clearance.invocations"
APPROVALS_PENDING = "clearance.approvals.pending"
APPROVALS_OLDEST_AGE = "clearance.approvals.oldest_pending_age"
APPROVALS_OVERDUE = "clearance.approvals.overdue"
ROLLOUTS_STUCK = "clearance.rollouts.stuck"
ROLLOUTS_IN_PROGRESS = "clearance.rollouts.in_progress"
DEAD_LETTER_DEPTH = "clearance.dead_letters.depth"
CHECKPOINT_AGE = "clearance.lineage.checkpoint_age"

EVENT_TYPES = {
    "Microsoft.ContainerRegistry.ImagePushed": "image_pushed",
    "Microsoft.ContainerRegistry.ChartPushed": "chart_pushed",
    "Microsoft.MachineLearningServices.ModelRegistered": "model_registered",
}
INTAKE_OUTCOMES = {
    RecordKind.APPROVAL_REQUESTED: "accepted",
    RecordKind.ARTIFACT_REJECTED: "rejected",
    RecordKind.ARTIFACT_DUPLICATE: "duplicate",
    RecordKind.ARTIFACT_RETAGGED: "retagged",
    RecordKind.ARTIFACT_SKIPPED: "skipped",
    RecordKind.DEAD_LETTERED: "dead_lettered",
}
DECISIONS = {
    RecordKind.APPROVAL_APPROVED: "approved",
    RecordKind.APPROVAL_REJECTED: "rejected",
    RecordKind.APPROVAL_EXPIRED: "expired",
    RecordKind.APPROVAL_CANCELLED: "cancelled",
    RecordKind.APPROVAL_SUPERSEDED: "superseded",
}
ROLLOUT_OUTCOMES = {
    RecordKind.DEPLOYMENT_SUCCEEDED: "succeeded",
    RecordKind.DEPLOYMENT_FAILED: "failed",
    RecordKind.DEPLOYMENT_ROLLED_BACK: "rolled_back",
}
CODES = frozenset(c.value for c in IntakeCode) | frozenset(c.value for c in DeployCode)
STRATEGIES = frozenset({"rolling", "blue-green", "canary", "shadow"})
VERDICTS = frozenset(v.value for v in Verdict)
QUEUES = frozenset(ALL_QUEUES)


def bounded(value: object, allowed: frozenset[str], other: str = "other") -> str:
    return value if isinstance(value, str) and value in allowed else other


def event_type(value: object) -> str:
    return EVENT_TYPES.get(value, "other") if isinstance(value, str) else "other"


class Instruments:
    def __init__(self, meter: Any) -> None:
        self.events = meter.create_counter(
            EVENTS, unit="1", description="Intake events by type and outcome (closed codes)"
        )
        self.approval_request_latency = meter.create_histogram(
            APPROVAL_REQUEST_LATENCY, unit="s", description="Push (event time) to approval request"
        )
        self.decisions = meter.create_counter(
            APPROVAL_DECISIONS, unit="1", description="Approval decisions by outcome"
        )
        self.time_to_decision = meter.create_histogram(
            TIME_TO_DECISION, unit="s", description="Approval opened to decided"
        )
        self.rollouts = meter.create_counter(
            ROLLOUTS, unit="1", description="Rollouts by strategy and outcome"
        )
        self.verdicts = meter.create_counter(
            ANALYSIS_VERDICTS, unit="1", description="Analysis verdicts by strategy"
        )
        self.invocations = meter.create_counter(
            INVOCATIONS, unit="1", description="Trigger invocations by function and result"
        )
        self._gauges: dict[str, list[tuple[float, dict[str, str]]]] = {}
        for name, unit, text in (
            (APPROVALS_PENDING, "1", "Pending approvals"),
            (APPROVALS_OLDEST_AGE, "s", "Age of the oldest pending approval"),
            (APPROVALS_OVERDUE, "1", "Pending approvals past their reminder time"),
            (ROLLOUTS_STUCK, "1", "Rollouts whose next step is overdue"),
            (ROLLOUTS_IN_PROGRESS, "1", "Rollouts in progress"),
            (DEAD_LETTER_DEPTH, "1", "Messages in each dead-letter queue"),
            (CHECKPOINT_AGE, "s", "Age of the newest signed lineage checkpoint"),
        ):
            meter.create_observable_gauge(
                name, callbacks=[self._observer(name)], unit=unit, description=text
            )

    def _observer(self, name: str) -> Callable[[Any], Iterable[Any]]:
        def observe(_options: Any) -> Iterable[Any]:
            from opentelemetry.metrics import Observation

            return [Observation(v, attrs) for v, attrs in self._gauges.get(name, [])]

        return observe

    def set_gauge(self, name: str, values: list[tuple[float, dict[str, str]]]) -> None:
        self._gauges[name] = values

    def observe_record(self, record: LineageRecord, ctx: dict[str, Any]) -> None:
        """Count what one appended lineage record says (``ctx``: the invocation's notes)."""
        kind = record.kind
        if kind in INTAKE_OUTCOMES:
            outcome = INTAKE_OUTCOMES[kind]
            code = record.reasons[0].code if record.reasons and outcome != "accepted" else "none"
            self.events.add(
                1,
                {
                    "type": ctx.get("event_type", "other"),
                    "outcome": outcome,
                    "code": bounded(code, CODES | {"none"}),
                },
            )
            pushed = ctx.get("event_time")
            if kind is RecordKind.APPROVAL_REQUESTED and isinstance(pushed, datetime):
                self.approval_request_latency.record(max(0.0, (record.at - pushed).total_seconds()))
        elif kind in DECISIONS:
            self.decisions.add(1, {"outcome": DECISIONS[kind]})
            opened = ctx.get("approvals", {}).get(record.correlation.approval_id)
            if isinstance(opened, datetime):
                self.time_to_decision.record(
                    max(0.0, (record.at - opened).total_seconds()), {"outcome": DECISIONS[kind]}
                )
        elif kind is RecordKind.DEPLOYMENT_STARTED:
            ctx["strategy"] = bounded(record.details.get("strategy"), STRATEGIES)
        elif kind in ROLLOUT_OUTCOMES:
            strategy = record.details.get("strategy") or ctx.get("strategy")
            self.rollouts.add(
                1,
                {"strategy": bounded(strategy, STRATEGIES), "outcome": ROLLOUT_OUTCOMES[kind]},
            )
        elif kind is RecordKind.DEPLOYMENT_ANALYSED:
            self.verdicts.add(
                1,
                {
                    "verdict": bounded(record.details.get("verdict"), VERDICTS),
                    "strategy": bounded(ctx.get("strategy"), STRATEGIES, "unknown"),
                },
            )
