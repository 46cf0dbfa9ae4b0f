"""Azure ML Kubernetes online endpoints: the endpoint and deployment specs of each rollout step.

One endpoint per model; each revision runs as a deployment named by its colour (``blue`` /
``green``) and traffic moves between the two through the endpoint's traffic map. The specs
are plain dicts in the AML YAML shape; the adapter loads them through the SDK's own schema.
Kubernetes online endpoints cannot mirror traffic, so there is no shadow here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.domain.deploy import chargeback
from shared.domain.deploy.k8s_names import dns_label
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.revision import Revision
from shared.domain.deploy.steps import steps_for
from shared.domain.metadata.serving import AmlServing

Spec = dict[str, Any]
ENDPOINT_NAME_MAX = 32


@dataclass(frozen=True)
class AmlPhase:
    step: str
    endpoint: Spec  # with the traffic map this step sets
    deploy: Spec | None = None  # created or updated before the traffic changes
    delete: tuple[str, ...] = ()  # deployments removed once traffic left them
    gate: tuple[str, ...] = ()
    traffic: dict[str, int] = field(default_factory=dict)


def endpoint_name(model: str, stage_prefix: str | None = None) -> str:
    """One endpoint per model (per model and stage, for a stage with a ``name_prefix``)."""
    parts = (model, stage_prefix) if stage_prefix else (model,)
    name = dns_label(*parts, max_length=ENDPOINT_NAME_MAX)
    return name if len(name) >= 3 else dns_label(*parts, "ep")


def _tags(release: Revision) -> dict[str, str]:
    return {
        "clearance.model": release.metadata.name,
        "clearance.version": release.metadata.version,
        "clearance.approval-id": release.approval_id,
        "clearance.approved-by": ", ".join(release.approved_by),
        "clearance.deployment-id": release.deployment_id,
        **chargeback.tags(release.metadata, release.stage),
    }


def endpoint_spec(plan: DeploymentPlan, traffic: dict[str, int]) -> Spec:
    if plan.aml is None:
        raise ValueError("an AML plan needs the region's AML target")
    return {
        "name": endpoint_name(plan.model, plan.name_prefix),
        "compute": f"azureml:{plan.aml.compute}",
        "auth_mode": "aml_token",
        "traffic": dict(sorted(traffic.items())),
        # The endpoint carries the chargeback tags of the revision this plan rolls out.
        "tags": {
            "clearance.model": plan.model,
            "clearance.region": plan.region,
            **chargeback.tags(plan.metadata, plan.stage),
        },
    }


def deployment_spec(plan: DeploymentPlan, release: Revision) -> Spec:
    serving = release.metadata.serving
    if not isinstance(serving, AmlServing):
        raise ValueError(f"{release.model} is not an Azure ML model")
    spec: Spec = {
        "name": release.workload,
        "type": "kubernetes",
        "endpoint_name": endpoint_name(plan.model, plan.name_prefix),
        "model": f"azureml:{release.artifact.model}:{release.artifact.version}",
        "instance_count": serving.instance_count,
        "tags": _tags(release),
    }
    if serving.instance_type is not None:
        spec["instance_type"] = serving.instance_type
    return spec


def _phase(
    plan: DeploymentPlan,
    step: str,
    traffic: dict[str, int],
    *,
    deploy: Revision | None = None,
    delete: tuple[str, ...] = (),
    gate: tuple[str, ...] = (),
) -> AmlPhase:
    return AmlPhase(
        step=step,
        endpoint=endpoint_spec(plan, traffic),
        deploy=deployment_spec(plan, deploy) if deploy is not None else None,
        delete=delete,
        gate=gate,
        traffic=dict(sorted(traffic.items())),
    )


def aml_phase(plan: DeploymentPlan, index: int) -> AmlPhase:
    steps = steps_for(plan)
    step = steps[index]
    new, old = plan.release.workload, plan.replaces.workload if plan.replaces else None
    gate = (new,) if step.gated else ()
    retire = (old,) if old is not None and old != new else ()
    if step.name in ("promote", "restore"):
        # After a canary the new deployment exists already; updating it again is harmless.
        return _phase(plan, step.name, {new: 100}, deploy=plan.release, delete=retire, gate=gate)
    if step.name.startswith("deploy-"):
        traffic = {old: 100, new: 0} if old is not None else {new: 0}
        return _phase(plan, step.name, traffic, deploy=plan.release)
    if step.name == "switch":
        traffic = {new: 100, old: 0} if old is not None else {new: 100}
        return _phase(plan, step.name, traffic, gate=gate)
    if step.name == "retire":
        return _phase(plan, step.name, {new: 100}, delete=retire, gate=gate)
    if step.name.startswith("canary-") and old is not None:
        weight = step.weight or 0
        return _phase(
            plan, step.name, {old: 100 - weight, new: weight}, deploy=plan.release, gate=gate
        )
    raise ValueError(f"step {step.name} is not available on Azure ML endpoints")


def aml_remove_phase(plan: DeploymentPlan) -> AmlPhase:
    """No traffic, and the plan's deployment deleted from the stage's endpoint."""
    return _phase(plan, "remove", {}, delete=(plan.release.workload,))


def aml_restore_phase(plan: DeploymentPlan) -> AmlPhase:
    """All traffic back to what ran before (recreated if it was retired); the new one goes."""
    new, previous = plan.release.workload, plan.replaces
    if previous is None:
        return _phase(plan, "remove", {}, delete=(new,))
    retire = (new,) if new != previous.workload else ()
    return _phase(
        plan, "restore-previous", {previous.workload: 100}, deploy=previous, delete=retire
    )
