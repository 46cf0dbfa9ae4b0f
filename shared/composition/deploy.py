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
from typing import TYPE_CHECKING, Any, cast

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.plan import DeploymentPlan, DriverKind
from shared.ports.deploy import Deployer, StageRemover
from shared.services.approval.devops_checks import CheckDeps
from shared.services.deploy.expiry import ExpiryDeps
from shared.services.deploy.rollback import RollbackDeps
from shared.services.deploy.rollouts import DeployDeps

if TYPE_CHECKING:
    from shared.composition import Container
    from shared.ports.deploy import Cluster
    from shared.ports.metrics import MetricProvider
    from shared.services.deploy.analysis import AnalysisDeps

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


@lru_cache(maxsize=1)
def step_budget(host_json: Path = REPO / "host.json", margin: float = 180.0) -> float:
    """Seconds a deployment step may spend waiting on a target: host.json ``functionTimeout``
    minus ``margin`` (state, lineage and mail after the waits), never under a minute."""
    try:
        host = json.loads(host_json.read_text(encoding="utf-8"))
        hours, minutes, seconds = str(host["functionTimeout"]).split(":")
        timeout = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (OSError, ValueError, KeyError, TypeError):
        timeout = 600.0
    return max(60.0, timeout - margin)


class Drivers:
    """The ``DeployerFactory``: one driver per kind, each caching its clients per target."""

    def __init__(self, cell: RegionEntry, credential: Any, workdir: Path) -> None:
        self._cell = cell
        self._credential = credential  # a callable returning the (lazily built) credential
        self._workdir = workdir
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def remover(self, kind: DriverKind, /) -> StageRemover:
        """The same drivers, as the expiry timer uses them (``remove``)."""
        driver: Any = self(kind)
        return cast(StageRemover, driver)

    def __call__(self, kind: DriverKind, /) -> Deployer:
        from shared.services.deploy.drivers.aml import AmlDeployer
        from shared.services.deploy.drivers.gitops import GitOpsDeployer
        from shared.services.deploy.drivers.kubernetes import KubernetesDeployer

        if kind is DriverKind.GITOPS:
            return GitOpsDeployer(self._repository, self._observer)
        if kind is DriverKind.KUBERNETES:
            return KubernetesDeployer(self._cluster, rollout_timeout=step_budget())
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
        client = self._cached(
            f"aml|{aml.workspace}",
            lambda: ml_client(
                self._credential(), aml.subscription_id, aml.resource_group, aml.workspace
            ),
        )
        # One adapter per step: its waits share one budget below functionTimeout.
        return AmlOnlineEndpoints(client, budget=step_budget())


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
        rejections=container.rejections,
        analysis=analysis_deps(container) if cell.analysis is not None else None,
        time_scale=s.deploy_time_scale,
        supply_chain=lambda plan: recheck(evidence, cell, plan),
    )


def analysis_deps(container: Container) -> AnalysisDeps:
    """Metric providers per plan: the region's provider for images, endpoint metrics for AML."""
    from shared.services.deploy.analysis import AnalysisDeps

    s = container.settings
    url = s.teams_webhook_url
    return AnalysisDeps(
        provider_for=MetricProviders(s.cell, lambda: container.credential),
        teams=_teams_of(url.get_secret_value()) if url else None,
    )


def _teams_of(url: str) -> Any:
    from shared.adapters.teams.webhook import TeamsWebhook
    from shared.domain.errors import ConfigurationError

    try:
        return TeamsWebhook(url)
    except ValueError as exc:  # e.g. a Key Vault reference that did not resolve
        raise ConfigurationError(f"CLEARANCE_TEAMS_WEBHOOK_URL: {exc}") from exc


class MetricProviders:
    def __init__(self, cell: RegionEntry, credential: Any) -> None:
        self._cell = cell
        self._credential = credential
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, plan: DeploymentPlan) -> MetricProvider:
        from shared.domain.analysis.checks import ProviderKind
        from shared.domain.analysis.gates import provider_of
        from shared.domain.deploy.aml import endpoint_name

        settings = self._cell.analysis
        if settings is None:
            raise ValueError("metric analysis without an analysis entry in the catalog")
        kind = provider_of(plan, settings)
        key = kind.value if kind is not ProviderKind.AML_METRICS else f"aml|{plan.model}"
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._build(kind, settings.endpoint, plan, endpoint_name)
            provider: MetricProvider = self._cache[key]
            return provider

    def _build(self, kind: Any, endpoint: str, plan: DeploymentPlan, endpoint_name: Any) -> Any:
        from shared.domain.analysis.checks import ProviderKind

        if kind is ProviderKind.PROMETHEUS:
            from shared.adapters.metrics.prometheus import PrometheusProvider

            return PrometheusProvider(endpoint)
        if kind is ProviderKind.AZURE_PROMETHEUS:
            from shared.adapters.metrics.prometheus import PrometheusProvider

            return PrometheusProvider(endpoint, credential=self._credential())
        if kind is ProviderKind.LOG_ANALYTICS:
            from shared.adapters.metrics.log_analytics import LogAnalyticsProvider, logs_client

            return LogAnalyticsProvider(logs_client(self._credential()), endpoint)
        from shared.adapters.metrics.aml_metrics import (
            AmlMetricsProvider,
            endpoint_resource,
            metrics_client,
        )

        aml = plan.aml
        if aml is None:
            raise ValueError("aml plan without an aml target")
        resource = endpoint_resource(
            aml.subscription_id,
            aml.resource_group,
            aml.workspace,
            endpoint_name(plan.model, plan.name_prefix),
        )
        return AmlMetricsProvider(metrics_client(self._credential()), resource)


@lru_cache(maxsize=4)
def rollback_deps(container: Container) -> RollbackDeps:
    from shared.adapters.storage.deployment_state import TableDeploymentStateStore

    return RollbackDeps(
        cell=container.settings.cell,
        state=TableDeploymentStateStore(container.table_service),
        bus=container.bus,
        lineage=container.lineage,
    )


def expiry_deps(container: Container) -> ExpiryDeps:
    from shared.adapters.storage.deployment_state import TableDeploymentStateStore

    cell = container.settings.cell
    return ExpiryDeps(
        cell=cell,
        state=TableDeploymentStateStore(container.table_service),
        lineage=container.lineage,
        bus=container.bus,
        mailer=container.mailer,
        removers=Drivers(cell, lambda: container.credential, gitops_workdir(cell.name)).remover,
    )


def devops_check_deps(container: Container) -> CheckDeps:
    from shared.adapters.devops.callbacks import HttpPipelineCallbacks
    from shared.adapters.storage.approvals import TableApprovalStore
    from shared.adapters.storage.devops_checks import TablePendingChecks

    settings = container.settings
    secret = settings.ado_check_secret
    return CheckDeps(
        cell=settings.cell,
        approvals=TableApprovalStore(container.table_service),
        checks=TablePendingChecks(container.table_service),
        # Azure DevOps expects the check request answered within 3 s: an immediate callback
        # that takes longer is left to the timer.
        callbacks=HttpPipelineCallbacks(timeout=2.0),
        secret=secret.get_secret_value() if secret is not None else None,
        allowed=tuple(u.strip() for u in settings.ado_organizations.split(",") if u.strip()),
        lineage=container.lineage,
    )
