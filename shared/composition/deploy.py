"""Builds the deployment dependencies from the composition root's clients, lazily.

The triggers call ``deployment_deps(get_container())`` / ``rollback_deps(...)``: built once
per container (per worker process); every driver and SDK client is created on first use and
cached per target.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.plan import DeploymentPlan, DriverKind
from shared.ports.deploy import Deployer
from shared.services.deploy.rollback import RollbackDeps
from shared.services.deploy.rollouts import DeployDeps

if TYPE_CHECKING:
    from shared.composition import Container
    from shared.ports.deploy import Cluster

REPO = Path(__file__).resolve().parents[2]
AZURE_DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"


@lru_cache(maxsize=1)
def delivery_limit(host_json: Path = REPO / "host.json") -> int:
    """host.json extensions.queues.maxDequeueCount, which Terraform mirrors on Service Bus."""
    try:
        host = json.loads(host_json.read_text(encoding="utf-8"))
        return int(host["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, ValueError, KeyError, TypeError):
        return 5


class Drivers:
    """The ``DeployerFactory``: one driver per kind, each caching its clients per target."""

    def __init__(self, cell: RegionEntry, credential: Any, workdir: Path) -> None:
        self._cell = cell
        self._credential = credential  # a callable returning the (lazily built) credential
        self._workdir = workdir
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: DriverKind, /) -> Deployer:
        from shared.services.deploy.drivers.aml import AmlDeployer
        from shared.services.deploy.drivers.gitops import GitOpsDeployer
        from shared.services.deploy.drivers.kubernetes import KubernetesDeployer

        if kind is DriverKind.GITOPS:
            return GitOpsDeployer(self._repository, self._observer)
        if kind is DriverKind.KUBERNETES:
            return KubernetesDeployer(self._cluster)
        return AmlDeployer(self._aml)

    def _cached(self, key: str, build: Any) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def _repository(self, plan: DeploymentPlan) -> Any:
        from shared.adapters.gitops.repository import GitRepository

        target = plan.gitops
        if target is None:
            raise ValueError("gitops plan without a gitops target")
        url, branch = target.repository_url, target.branch
        key = hashlib.sha256(f"{url}|{branch}".encode()).hexdigest()[:16]
        auth = self._devops_header if "dev.azure.com" in url or "visualstudio.com" in url else None
        author = ("Clearance", f"clearance@{self._cell.name}.clearance.invalid")
        return self._cached(
            f"git|{key}",
            lambda: GitRepository(
                url, branch, self._workdir / key, author=author, auth_header=auth
            ),
        )

    def _devops_header(self) -> str:
        token = self._credential().get_token(AZURE_DEVOPS_SCOPE).token
        return f"Authorization: Bearer {token}"

    def _cluster(self, plan: DeploymentPlan) -> Cluster:
        from shared.adapters.kubernetes.auth import aks_api_client
        from shared.adapters.kubernetes.cluster import KubernetesCluster

        aks = plan.aks
        if aks is None:
            raise ValueError("kubernetes plan without an aks target")
        cluster: Cluster = self._cached(
            f"aks|{aks.cluster_name}",
            lambda: KubernetesCluster(
                aks_api_client(aks, self._credential()), cluster=aks.cluster_name
            ),
        )
        return cluster

    def _observer(self, plan: DeploymentPlan) -> Cluster | None:
        """Read access to the cluster Flux deploys to, when the catalog says how to reach it."""
        if plan.aks is None or not plan.aks.subscription_id:
            return None
        return self._cluster(plan)

    def _aml(self, plan: DeploymentPlan) -> Any:
        from shared.adapters.aml.online import AmlOnlineEndpoints, ml_client

        aml = plan.aml
        if aml is None:
            raise ValueError("aml plan without an aml target")
        return self._cached(
            f"aml|{aml.workspace}",
            lambda: AmlOnlineEndpoints(
                ml_client(
                    self._credential(), aml.subscription_id, aml.resource_group, aml.workspace
                )
            ),
        )


def gitops_workdir(region: str) -> Path:
    return Path(tempfile.gettempdir()) / "clearance-gitops" / region


@lru_cache(maxsize=4)
def deployment_deps(container: Container) -> DeployDeps:
    """The deployment dependencies of ``container``, built once (per worker process)."""
    from shared.adapters.storage.deployment_state import TableDeploymentStateStore
    from shared.services.deploy.supply_chain import recheck

    s = container.settings
    cell = s.cell
    evidence = container.supply_chain_reader()
    return DeployDeps(
        cell=cell,
        state=TableDeploymentStateStore(container.table_service),
        drivers=Drivers(cell, lambda: container.credential, gitops_workdir(cell.name)),
        lineage=container.lineage,
        bus=container.bus,
        mailer=container.mailer,
        platform_email=str(s.platform_email) if s.platform_email else None,
        max_deliveries=delivery_limit(),
        supply_chain=lambda plan: recheck(evidence, cell, plan),
    )


@lru_cache(maxsize=4)
def rollback_deps(container: Container) -> RollbackDeps:
    from shared.adapters.storage.deployment_state import TableDeploymentStateStore

    return RollbackDeps(
        cell=container.settings.cell,
        state=TableDeploymentStateStore(container.table_service),
        bus=container.bus,
        lineage=container.lineage,
    )
