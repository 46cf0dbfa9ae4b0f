"""The ports of deployment: one ``Deployer`` per driver, and the state store.

Drivers (gitops, kubernetes, aml) implement ``Deployer``; tests use fakes implementing these
same protocols (``tests/deploy_fakes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from shared.domain.deployment_plan import DeploymentPlan, DriverKind
from shared.domain.deployment_state import DeploymentState
from shared.domain.errors import TransientError


@dataclass(frozen=True)
class StepReport:
    """Where a step took effect (cluster, namespace, commit, endpoint) and what it did."""

    where: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


class Deployer(Protocol):
    """Runs the steps of a plan on one kind of target.

    Raises ``RolloutFailed`` when a step did not become healthy (the service then calls
    ``restore``), ``PlanError`` when the plan cannot be carried out, ``TransientError`` when
    the target cannot be reached.
    """

    def run_step(self, plan: DeploymentPlan, index: int) -> StepReport: ...

    def check_health(self, plan: DeploymentPlan, index: int) -> Health:
        """The health gate before step ``index``: is what the previous step started healthy?"""
        ...

    def restore(self, plan: DeploymentPlan) -> StepReport:
        """Bring back exactly what ran before the plan (or nothing, if nothing ran)."""
        ...


class DeployerFactory(Protocol):
    def __call__(self, kind: DriverKind, /) -> Deployer: ...


class StateConflict(TransientError):
    """Someone else changed the model's state since it was read; retry from a fresh read."""


class DeploymentStateStore(Protocol):
    def get(self, region: str, model: str) -> tuple[DeploymentState, str | None]:
        """The state and its ETag; an empty state and None when the model never ran here."""
        ...

    def put(self, state: DeploymentState, etag: str | None) -> str:
        """Store ``state`` if it is unchanged since ``etag`` was read; return the new ETag.

        Raises ``StateConflict`` when it changed, ``TransientError`` when the store is down.
        """
        ...

    def list_region(self, region: str) -> list[DeploymentState]: ...
