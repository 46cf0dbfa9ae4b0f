"""The ports of deployment: one ``Deployer`` per driver, and the state store.

Drivers (gitops, kubernetes, aml) implement ``Deployer``; tests use fakes implementing these
same protocols (``tests/support/deploy_fakes.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shared.domain.deploy.aml import Spec
from shared.domain.deploy.k8s_status import DeploymentStatus
from shared.domain.deploy.manifests.objects import Manifest, ObjectRef
from shared.domain.deploy.plan import DeploymentPlan, DriverKind
from shared.domain.deploy.state import DeploymentState
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


class StageRemover(Protocol):
    """What every driver also does: take a model out of a stage (the expiry timer)."""

    def remove(self, plan: DeploymentPlan) -> StepReport:
        """Take the plan's model out of the plan's stage altogether (an expired deployment to
        a non-production stage). Idempotent: removing what is gone changes nothing."""
        ...


class RemoverFactory(Protocol):
    def __call__(self, kind: DriverKind, /) -> StageRemover: ...


class StepPending(TransientError):
    """The step's work was started but is not finished within the step's wait budget (kept
    below the Functions ``functionTimeout``). The service runs the same step again later; the
    driver then waits on what is already under way instead of starting it twice."""


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


class AmlEndpoints(Protocol):
    """Raises ``TransientError`` when Azure ML cannot be reached, ``RolloutFailed`` when a
    deployment fails to provision, ``PlanError`` when a spec is refused."""

    def get_traffic(self, endpoint: str) -> dict[str, int] | None:
        """The endpoint's traffic map; None when the endpoint does not exist."""
        ...

    def upsert_endpoint(self, spec: Spec) -> None: ...

    def upsert_deployment(self, spec: Spec) -> None:
        """Create or update, and wait until it is provisioned."""
        ...

    def deployment_state(self, endpoint: str, name: str) -> str | None:
        """The provisioning state (``Succeeded``, ``Failed``, ...); None when absent."""
        ...

    def delete_deployment(self, endpoint: str, name: str) -> None: ...


class GitOpsRepository(Protocol):
    url: str
    branch: str

    def replace(
        self,
        directory: str,
        files: Mapping[str, str],
        extra: Mapping[str, str | None],
        message: str,
    ) -> str:
        """Commit and push; return the SHA. ``TransientError`` when the remote is unreachable."""
        ...

    def read(self, path: str) -> str | None:
        """A file of the branch as last synced: inside ``replace``, the head being written on
        (``replace`` reads its ``extra`` mapping after each sync)."""
        ...


class Cluster(Protocol):
    """The little of the Kubernetes API the driver needs.

    Every call raises ``TransientError`` when the API server cannot be reached, and
    ``PlanError`` when it refuses an object (forbidden, invalid).
    """

    def apply(self, manifest: Manifest) -> None:
        """Server-side apply with Clearance's field manager, taking over conflicting fields."""
        ...

    def delete(self, ref: ObjectRef) -> bool:
        """False when the object did not exist."""
        ...

    def deployment_status(self, namespace: str, name: str) -> DeploymentStatus | None: ...

    def watch_deployment(
        self, namespace: str, name: str, timeout_seconds: float
    ) -> Iterator[DeploymentStatus]:
        """The current status, then each change, until ``timeout_seconds`` have passed."""
        ...
