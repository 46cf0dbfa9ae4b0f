"""What an operator asks first about a cell: pending approvals (and overdue ones), live models,
stuck rollouts, dead letters, the last signed checkpoint. ``clearance status`` prints it; the
``cell_status`` timer publishes it as gauges (Application Insights, local Prometheus), which
the cell's alerts watch (terraform/modules/cell/observability.tf)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.approval.record import Approval
from shared.domain.deploy.state import DeploymentState

# A rollout whose next step is this late has stalled (its message is lost or keeps failing).
STUCK_AFTER = timedelta(minutes=15)
# No reminder time exists in the approval policy: half an approval's validity stands in for it.
REMINDER_FRACTION = 0.5


class StatusSource(Protocol):
    def pending_approvals(self) -> Sequence[Approval]: ...
    def deployments(self) -> Sequence[DeploymentState]: ...
    def dead_letter_depths(self) -> Mapping[str, int]: ...
    def last_checkpoint_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class StuckRollout:
    model: str
    deployment_id: str
    late_seconds: float


@dataclass(frozen=True)
class CellStatus:
    region: str
    at: datetime
    pending: int
    oldest_pending_seconds: float
    overdue: tuple[str, ...]  # approval ids past their reminder time
    live: tuple[tuple[str, str], ...]  # (model, version)
    stuck: tuple[StuckRollout, ...]
    in_progress: int
    dead_letters: dict[str, int] = field(default_factory=dict)
    checkpoint_at: datetime | None = None

    @property
    def checkpoint_age_seconds(self) -> float | None:
        if self.checkpoint_at is None:
            return None
        return max(0.0, (self.at - self.checkpoint_at).total_seconds())


def reminder_due(approval: Approval) -> datetime:
    return approval.created_at + (approval.expires_at - approval.created_at) * REMINDER_FRACTION


def cell_status(region: str, source: StatusSource, now: datetime) -> CellStatus:
    pending = [a for a in source.pending_approvals() if not a.is_final]
    oldest = min((a.created_at for a in pending), default=None)
    overdue = tuple(sorted(a.approval_id for a in pending if reminder_due(a) <= now))
    live, stuck, running = [], [], 0
    for state in source.deployments():
        if state.live is not None:
            live.append((state.model, state.live.metadata.version))
        rollout = state.rollout
        if rollout is None:
            continue
        running += 1
        due = rollout.next_at or rollout.started_at
        if now - due > STUCK_AFTER:
            late = (now - due).total_seconds()
            stuck.append(StuckRollout(state.model, rollout.deployment_id, late))
    return CellStatus(
        region=region,
        at=now,
        pending=len(pending),
        oldest_pending_seconds=(now - oldest).total_seconds() if oldest else 0.0,
        overdue=overdue,
        live=tuple(sorted(live)),
        stuck=tuple(stuck),
        in_progress=running,
        dead_letters=dict(source.dead_letter_depths()),
        checkpoint_at=source.last_checkpoint_at(),
    )
