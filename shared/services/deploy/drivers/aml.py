"""The aml driver: Azure ML Kubernetes online endpoints on the region workspace's attached AKS
compute. Blue-green and canary move the endpoint's traffic between two deployments.

The driver talks to Azure ML through ``AmlEndpoints``; the adapter
(``shared.adapters.aml.online``) loads each spec through the SDK's own schema.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.domain.deploy.aml import (
    AmlPhase,
    aml_phase,
    aml_remove_phase,
    aml_restore_phase,
    endpoint_name,
)
from shared.domain.deploy.plan import DeploymentPlan
from shared.ports.deploy import AmlEndpoints, Health, StepReport


class AmlDeployer:
    def __init__(self, endpoints_for: Callable[[DeploymentPlan], AmlEndpoints]) -> None:
        self._endpoints_for = endpoints_for

    def run_step(self, plan: DeploymentPlan, index: int) -> StepReport:
        return self._execute(plan, aml_phase(plan, index))

    def restore(self, plan: DeploymentPlan) -> StepReport:
        return self._execute(plan, aml_restore_phase(plan))

    def remove(self, plan: DeploymentPlan) -> StepReport:
        endpoints = self._endpoints_for(plan)
        if endpoints.get_traffic(endpoint_name(plan.model, plan.name_prefix)) is None:
            return StepReport(where={}, details={"phase": "remove", "traffic": "no endpoint"})
        return self._execute(plan, aml_remove_phase(plan))

    def check_health(self, plan: DeploymentPlan, index: int) -> Health:
        endpoints = self._endpoints_for(plan)
        endpoint = endpoint_name(plan.model, plan.name_prefix)
        for name in aml_phase(plan, index).gate:
            state = endpoints.deployment_state(endpoint, name)
            if state != "Succeeded":
                return Health(False, f"deployment {name} is {state or 'missing'}")
        return Health(True, "healthy")

    def _execute(self, plan: DeploymentPlan, phase: AmlPhase) -> StepReport:
        endpoints = self._endpoints_for(plan)
        name = phase.endpoint["name"]
        current = endpoints.get_traffic(name)
        if current is None:  # a new endpoint starts without traffic
            endpoints.upsert_endpoint({**phase.endpoint, "traffic": {}})
        if phase.deploy is not None:
            endpoints.upsert_deployment(phase.deploy)
        endpoints.upsert_endpoint(phase.endpoint)
        for deployment in phase.delete:
            endpoints.delete_deployment(name, deployment)
        aml = plan.aml
        where = {"endpoint": name, "deployment": plan.release.workload}
        if aml is not None:
            where.update(workspace=aml.workspace, compute=aml.compute)
        traffic = ", ".join(f"{k}={v}" for k, v in phase.traffic.items())
        return StepReport(where=where, details={"phase": phase.step, "traffic": traffic})
