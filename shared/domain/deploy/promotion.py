"""Promotion between stages, pure: where a stage's state lives, whether the previous stage has
verified a version, and whether an emergency override of a change window is valid.

A version is verified in a stage when it is live there, no rollout is under way there, it has
run at least the stage's bake time since it went live (every gate's analysis passed, or the
rollout would not have finished), and it was not rolled back since: a rollback makes another
revision live, and a later redeployment of the same digest starts the bake time again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.catalog import RegionEntry, Stage
from shared.domain.deploy.request import Override
from shared.domain.deploy.state import DeploymentState
from shared.domain.identity import canonical_identity


def state_key(cell: RegionEntry, model: str, stage: str | None) -> str:
    """The state row of ``model`` in ``stage``: the production stage keeps the model's own row
    (what a region had before it listed stages); other stages get ``model@stage``."""
    if not cell.staged:
        return model
    resolved = cell.stage(stage)
    if resolved.production and resolved == cell.stage_list[-1]:
        return model
    return f"{model}@{resolved.name}"


def stage_for_key(cell: RegionEntry, key: str) -> str | None:
    """The stage a state row belongs to (the inverse of ``state_key``); None without stages."""
    if not cell.staged:
        return None
    if "@" in key:
        return key.split("@", 1)[1]
    return cell.stage_list[-1].name


@dataclass(frozen=True)
class Evidence:
    stage: str
    version: str
    identity: str
    since: datetime
    in_stage: timedelta
    strategy: str
    restored: bool

    def lines(self) -> tuple[str, ...]:
        hours, rest = divmod(int(self.in_stage.total_seconds()), 3600)
        return (
            f"Promotion from {self.stage}: {self.version} has run there {hours}h{rest // 60:02d}m "
            f"since {self.since:%Y-%m-%d %H:%M} UTC",
            f"{self.stage}: rollout ({self.strategy}) finished with every analysis gate "
            "passed; no rollback since",
        )


@dataclass(frozen=True)
class Unverified:
    reason: str
    expired: bool = False  # it ran there, expired and was removed (CLR-DEPLOY-PROMOTION-EXPIRED)


def verify(
    previous: Stage,
    state: DeploymentState,
    identity: str,
    now: datetime,
    time_scale: float = 1.0,
) -> Evidence | Unverified:
    """``time_scale``: seconds of bake time per second of the stage's ``bake_minutes`` (1 in
    Azure; the local stack's 1/60 makes a minute a second, as for rollout bake steps)."""
    live = state.live
    gone = state.expired
    if live is None and gone is not None and gone.identity == identity:
        return Unverified(
            f"{gone.summary()} expired in {previous.name} and was removed from it; deploy it "
            f"to {previous.name} again before promoting it",
            expired=True,
        )
    if live is None or live.identity != identity:
        running = live.summary() if live else "nothing"
        return Unverified(
            f"{identity} is not live in {previous.name} ({running} is): only what the previous "
            "stage runs and verified may be promoted"
        )
    if state.rollout is not None:
        return Unverified(
            f"a rollout ({state.rollout.plan.metadata.version}) is under way in {previous.name}"
        )
    if live.since is None:
        return Unverified(f"{previous.name} has no start time for {live.summary()}")
    if live.restored_from is not None:
        return Unverified(f"{live.summary()} runs in {previous.name} as the result of a rollback")
    bake = timedelta(seconds=previous.bake_minutes * 60 * time_scale)
    in_stage = now - live.since
    if in_stage < bake:
        left = bake - in_stage
        return Unverified(
            f"{live.metadata.version} has run {int(in_stage.total_seconds() // 60)} min in "
            f"{previous.name}; the stage's bake time is {previous.bake_minutes} min "
            f"({int(left.total_seconds() // 60) + 1} min left)"
        )
    return Evidence(
        stage=previous.name,
        version=live.metadata.version,
        identity=live.identity,
        since=live.since,
        in_stage=in_stage,
        strategy=live.metadata.rollout.strategy,
        restored=False,
    )


def override_problem(
    override: Override,
    *,
    approved_by: Iterable[str],
    owner: str,
    approvers: Iterable[str],
) -> str | None:
    """Why an emergency override is not valid, or None. The override's approver must be an
    approver of the stage, and neither the owner nor one who approved the deployment itself
    (the override is an *extra* approver); the reason must say something."""
    by = canonical_identity(override.by)
    if by in {canonical_identity(a) for a in approved_by}:
        return f"{override.by} already approved this deployment: an override needs another approver"
    if by == canonical_identity(owner):
        return "the model's owner cannot override a change window"
    listed = {canonical_identity(a) for a in approvers}
    if listed and by not in listed:
        return f"{override.by} is not an approver of this stage"
    if len(" ".join(override.reason.split())) < 10:
        return "an override needs a reason (at least 10 characters)"
    return None
