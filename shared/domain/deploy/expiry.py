"""Expiry of trial deployments: shadow and canary phases, and non-production stages.

A shadow or canary phase left running (a lost step message, a paused analysis nobody
decided, an experiment forgotten) keeps GPU replicas busy for nothing. Every such phase, and
every deployment to a non-production stage, therefore carries an expiry: the region catalog's
default for its kind, or the owner's ``ai.clearance.expiry-hours`` label within the catalog's
limit. The owner is told ``notice_hours`` before; at expiry the phase is rolled back to the
stable version or finished (per policy) and a non-production deployment is removed.

The expiry never falls inside the phase's planned length (a shadow's duration, a canary's
bake times): a label that asks for less, or for more than the limit, is refused at intake.
Pure: the timer service reads the deployment state and acts on ``decide``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.metadata.rollout import Canary, RolloutStrategy, Shadow

if TYPE_CHECKING:  # the catalog imports this module; the metadata model imports the catalog
    from shared.domain.metadata.model import ModelMetadata

Hours = Annotated[int, Field(ge=1, le=24 * 365)]
# Grace after the planned end of a phase before it counts as forgotten.
GRACE = timedelta(hours=1)


class ExpiryPolicy(BaseModel):
    """A region's expiry defaults and limits (``expiry`` in the region catalog)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shadow_hours: Hours = 72
    canary_hours: Hours = 48
    non_production_hours: Hours = 24 * 7
    # The longest expiry an owner's label may ask for.
    max_hours: Hours = 24 * 30
    # How long before the expiry the owner is told (0: no notice).
    notice_hours: Annotated[int, Field(ge=0, le=24 * 14)] = 24
    # An expired shadow or canary phase: back to the stable version, or on to the end.
    on_expiry: Literal["rollback", "promote"] = "rollback"

    @model_validator(mode="after")
    def _defaults_within_limit(self) -> ExpiryPolicy:
        over = [
            name
            for name in ("shadow_hours", "canary_hours", "non_production_hours")
            if getattr(self, name) > self.max_hours
        ]
        if over:
            raise ValueError(f"{', '.join(over)} exceed(s) max_hours={self.max_hours}")
        return self


class Phase(StrEnum):
    SHADOW = "shadow"
    CANARY = "canary"
    NON_PRODUCTION = "non-production"


def planned_length(strategy: RolloutStrategy) -> timedelta:
    """How long the phase runs when nothing goes wrong (before promotion)."""
    if isinstance(strategy, Shadow):
        return timedelta(minutes=strategy.duration_minutes)
    if isinstance(strategy, Canary):
        return timedelta(minutes=strategy.bake_minutes * (len(strategy.steps) - 1))
    return timedelta(0)


def phase_of(strategy: RolloutStrategy) -> Phase | None:
    if isinstance(strategy, Shadow):
        return Phase.SHADOW
    if isinstance(strategy, Canary):
        return Phase.CANARY
    return None


def lifetime(metadata: ModelMetadata, policy: ExpiryPolicy, phase: Phase) -> timedelta:
    """The owner's expiry, or the catalog default; never shorter than the planned phase."""
    defaults = {
        Phase.SHADOW: policy.shadow_hours,
        Phase.CANARY: policy.canary_hours,
        Phase.NON_PRODUCTION: policy.non_production_hours,
    }
    hours = metadata.expiry_hours or defaults[phase]
    granted = timedelta(hours=min(hours, policy.max_hours))
    if phase is Phase.NON_PRODUCTION:
        return granted
    return max(granted, planned_length(metadata.rollout) + GRACE)


def phase_deadline(
    metadata: ModelMetadata, strategy: RolloutStrategy, started_at: datetime, policy: ExpiryPolicy
) -> datetime | None:
    """When a rollout's shadow/canary phase expires; None for strategies without one."""
    phase = phase_of(strategy)
    if phase is None:
        return None
    return started_at + lifetime(metadata, policy, phase)


def stage_deadline(
    metadata: ModelMetadata, since: datetime, *, production: bool, policy: ExpiryPolicy
) -> datetime | None:
    """When a deployment to a stage expires: never in production."""
    if production:
        return None
    return since + lifetime(metadata, policy, Phase.NON_PRODUCTION)


class Action(StrEnum):
    NONE = "none"
    NOTIFY = "notify"
    RETIRE = "retire"


def decide(now: datetime, deadline: datetime | None, policy: ExpiryPolicy) -> Action:
    """What the timer does now (the notice is made idempotent by the caller's record)."""
    if deadline is None:
        return Action.NONE
    if now >= deadline:
        return Action.RETIRE
    if policy.notice_hours and now >= deadline - timedelta(hours=policy.notice_hours):
        return Action.NOTIFY
    return Action.NONE


def label_problems(metadata: ModelMetadata, policy: ExpiryPolicy) -> list[str]:
    """Why the owner's ``ai.clearance.expiry-hours`` does not fit ``policy`` (empty: it does)."""
    hours = metadata.expiry_hours
    if hours is None:
        return []
    problems = []
    if hours > policy.max_hours:
        problems.append(f"asks for {hours} hours, more than the limit of {policy.max_hours} hours")
    planned = planned_length(metadata.rollout)
    if planned and timedelta(hours=hours) < planned + GRACE:
        minutes = int((planned + GRACE).total_seconds() // 60)
        problems.append(
            f"asks for {hours} hours, less than the planned {metadata.rollout.strategy} phase "
            f"and its grace ({minutes} minutes); the phase would be retired before it ends"
        )
    return problems
