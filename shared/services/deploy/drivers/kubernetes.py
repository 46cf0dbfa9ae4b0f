"""The kubernetes driver: server-side apply to the region's AKS cluster, wait, roll back.

The logic lives here and talks to the cluster through ``Cluster``, a port of four calls; the
adapter (``shared.adapters.kubernetes.cluster``) is a thin translation to the kubernetes client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shared.domain.deploy.codes import DeployCode, RolloutFailed
from shared.domain.deploy.k8s_status import healthy, rollout_progress
from shared.domain.deploy.manifests.objects import Manifest
from shared.domain.deploy.manifests.phases import (
    K8sPhase,
    phase_for,
    remove_phase,
    restore_phase,
)
from shared.domain.deploy.manifests.validation import validate_manifests
from shared.domain.deploy.plan import DeploymentPlan
from shared.ports.deploy import Cluster, Health, StepReport

log = logging.getLogger(__name__)

DEFAULT_ROLLOUT_TIMEOUT = 420.0  # below the Function timeout (10 min) and above the deadline


class KubernetesDeployer:
    def __init__(
        self,
        cluster_for: Callable[[DeploymentPlan], Cluster],
        *,
        rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
        apply_namespaces: bool = False,
    ) -> None:
        """``apply_namespaces``: off in Azure, where Terraform creates each model team's
        namespace and Clearance's identity holds a namespace-scoped role only (a cluster-scoped
        ``Namespace`` apply would be refused with 403). The namespace is still validated and
        kept in the GitOps rendering; only this driver leaves it out."""
        self._cluster_for = cluster_for
        self._timeout = rollout_timeout
        self._monotonic = monotonic
        self._apply_namespaces = apply_namespaces

    def run_step(self, plan: DeploymentPlan, index: int) -> StepReport:
        return self._execute(plan, phase_for(plan, index))

    def restore(self, plan: DeploymentPlan) -> StepReport:
        return self._execute(plan, restore_phase(plan))

    def remove(self, plan: DeploymentPlan) -> StepReport:
        return self._execute(plan, remove_phase(plan))

    def check_health(self, plan: DeploymentPlan, index: int) -> Health:
        cluster = self._cluster_for(plan)
        for name in phase_for(plan, index).gate:
            ok, reason = healthy(cluster.deployment_status(plan.namespace, name))
            if not ok:
                return Health(False, f"{name}: {reason}")
        return Health(True, "healthy")

    def _execute(self, plan: DeploymentPlan, phase: K8sPhase) -> StepReport:
        validate_manifests(phase.desired, plan.kubernetes_version)
        cluster = self._cluster_for(plan)
        for manifest in self._applied(phase.first):
            cluster.apply(manifest)
        for name in phase.ready:
            self._wait(cluster, plan.namespace, name)
        for manifest in self._applied(phase.then):
            cluster.apply(manifest)
        deleted = [ref for ref in phase.delete if cluster.delete(ref)]
        where = {"namespace": plan.namespace, "workload": plan.release.workload}
        if plan.aks is not None:
            where["cluster"] = plan.aks.cluster_name
        return StepReport(
            where=where,
            details={
                "phase": phase.step,
                "applied": str(len(phase.first) + len(phase.then)),
                "deleted": ", ".join(f"{r.kind}/{r.name}" for r in deleted),
            },
        )

    def _applied(self, manifests: tuple[Manifest, ...]) -> tuple[Manifest, ...]:
        if self._apply_namespaces:
            return manifests
        return tuple(m for m in manifests if m.get("kind") != "Namespace")

    def _wait(self, cluster: Cluster, namespace: str, name: str) -> None:
        """Until the Deployment is rolled out; ``RolloutFailed`` on its progress deadline or
        when the time runs out."""
        deadline = self._monotonic() + self._timeout
        last = "no status yet"
        for status in cluster.watch_deployment(namespace, name, self._timeout):
            progress = rollout_progress(status)
            if progress.done:
                log.info("%s/%s: %s", namespace, name, progress.message)
                return
            if progress.failed:
                raise RolloutFailed(
                    DeployCode.PROGRESS_DEADLINE, f"Deployment {name}: {progress.message}"
                )
            last = progress.message
            if self._monotonic() >= deadline:
                break
        raise RolloutFailed(
            DeployCode.TIMEOUT,
            f"Deployment {name} did not roll out within {self._timeout:.0f}s ({last}).",
        )
