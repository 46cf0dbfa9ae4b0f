"""What runs per (region, model), what it replaced, and which rollout is under way.

Pure transitions; the store persists them with optimistic concurrency (ETags), so two
deliveries can never both believe they own the model's rollout.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.analysis.verdict import Analysis
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.revision import Revision

HISTORY_LIMIT = 10


class Rollout(BaseModel):
    """A rollout in progress: its plan (fixed when it began, with what it replaces) and the
    next step to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan: DeploymentPlan
    next_step: int = Field(ge=0)
    steps: int = Field(ge=1)
    started_at: datetime
    live_switched: bool = False
    next_at: datetime | None = None  # when the next step is due (after the bake time)
    analysis: Analysis | None = None  # the metric analysis of the gate before ``next_step``

    @property
    def deployment_id(self) -> str:
        return self.plan.deployment_id


class DeploymentState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    model: str
    live: Revision | None = None
    history: tuple[Revision, ...] = ()  # what ran before ``live``, most recent first
    rollout: Rollout | None = None
    # The one approved deployment waiting for ``rollout`` to finish (a newer one supersedes
    # it), and when the newest deployment that held this slot was approved.
    queued: str | None = None
    queued_at: datetime | None = None
    # What ran in a non-production stage until it expired and was removed (``live`` is None).
    expired: Revision | None = None

    @property
    def previous(self) -> Revision | None:
        return self.history[0] if self.history else None

    def is_live(self, identity: str) -> bool:
        return self.live is not None and self.live.identity == identity

    def begin(self, rollout: Rollout) -> DeploymentState:
        if self.rollout is not None and self.rollout.deployment_id != rollout.deployment_id:
            raise ValueError(f"{self.model} is busy with {self.rollout.deployment_id}")
        update: dict[str, object] = {"rollout": rollout}
        approved_at = rollout.plan.release.approved_at
        if self.queued == rollout.deployment_id:
            # the slot is free again; its approval time stays as the floor: a deployment
            # approved before it that still waits somewhere is superseded
            update |= {"queued": None}
        if rollout.plan.rollback_of is None and (
            self.queued_at is None or approved_at > self.queued_at
        ):
            # a rollout that starts without having waited raises the floor too, and takes the
            # slot from an older approval waiting there: nothing approved before the one
            # rolling out now may roll out after it
            update |= {"queued": None, "queued_at": approved_at}
        return self.model_copy(update=update)

    def enqueue(self, deployment_id: str, approved_at: datetime) -> DeploymentState:
        return self.model_copy(update={"queued": deployment_id, "queued_at": approved_at})

    def advance(self, deployment_id: str, due: datetime) -> DeploymentState:
        rollout = self._own(deployment_id)
        step = {"next_step": rollout.next_step + 1, "next_at": due}
        return self.model_copy(update={"rollout": rollout.model_copy(update=step)})

    def go_live(self, revision: Revision, *, rollback: bool) -> DeploymentState:
        """``revision`` serves now. A new version pushes the old one onto the history; a
        rollback takes the restored revision off it (the rolled-back one is only in lineage)."""
        rollout = self._own(revision.deployment_id)
        if rollback:
            history = self.history[1:]
        else:
            history = ((self.live,) if self.live is not None else ()) + self.history
        return self.model_copy(
            update={
                "live": revision,
                "history": history[:HISTORY_LIMIT],
                "rollout": rollout.model_copy(update={"live_switched": True}),
            }
        )

    def restore(
        self, failed: Revision, previous: Revision | None, *, rollback: bool
    ) -> DeploymentState:
        """The rollout of ``failed`` did not hold; ``previous`` (what it replaced) serves again."""
        rollout = self._own(failed.deployment_id)
        if not rollout.live_switched:
            return self.model_copy(update={"rollout": None})
        # go_live pushed ``previous`` onto the history (or, for a rollback, took ``failed``
        # off it): undo exactly that.
        history = (failed, *self.history) if rollback else self.history[1:]
        return self.model_copy(
            update={"live": previous, "history": history[:HISTORY_LIMIT], "rollout": None}
        )

    def analysing(self, deployment_id: str, analysis: Analysis, due: datetime) -> DeploymentState:
        """The gate's analysis moved on; its next measurement (or deadline) is due at ``due``."""
        rollout = self._own(deployment_id)
        update = {"analysis": analysis, "next_at": due}
        return self.model_copy(update={"rollout": rollout.model_copy(update=update)})

    def remove_expired(self, deployment_id: str) -> DeploymentState:
        """The live revision expired and was taken out of its (non-production) stage."""
        if self.live is None or self.live.deployment_id != deployment_id or self.rollout:
            raise ValueError(f"{deployment_id} is not what runs idle for {self.model}")
        return self.model_copy(update={"live": None, "expired": self.live})

    def finish(self, deployment_id: str) -> DeploymentState:
        self._own(deployment_id)
        return self.model_copy(update={"rollout": None})

    def _own(self, deployment_id: str) -> Rollout:
        if self.rollout is None or self.rollout.deployment_id != deployment_id:
            raise ValueError(f"{deployment_id} does not own the rollout of {self.model}")
        return self.rollout
