"""What one rollout step means for the cluster: objects to apply, wait for, switch and delete.

A phase is both an ordered recipe (the kubernetes driver applies ``first``, waits until the
``ready`` Deployments are Available, applies ``then``, deletes ``delete``) and a full desired
state (``desired``: what the GitOps directory of the model holds after the step).

Workloads of a model ``m``: ``m`` (stable), ``m-blue`` / ``m-green`` (blue-green colours),
``m-canary`` and ``m-shadow``. The Service ``m`` always selects exactly one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.deploy.manifests.objects import (
    Manifest,
    ObjectRef,
    canary_name,
    colour_name,
    discard_name,
    host,
    ingress,
    namespace,
    network_policy,
    service,
    shadow_host,
    shadow_name,
    with_tls,
    workload,
)
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.revision import Revision, Track
from shared.domain.deploy.steps import Step, steps_for


@dataclass(frozen=True)
class K8sPhase:
    step: str
    first: tuple[Manifest, ...] = ()
    ready: tuple[str, ...] = ()
    then: tuple[Manifest, ...] = ()
    keep: tuple[Manifest, ...] = ()
    delete: tuple[ObjectRef, ...] = ()
    gate: tuple[str, ...] = ()

    @property
    def desired(self) -> tuple[Manifest, ...]:
        """The model's objects after this phase (later definitions of one object win)."""
        by_ref: dict[ObjectRef, Manifest] = {}
        for manifest in (*self.keep, *self.first, *self.then):
            by_ref[ObjectRef.of(manifest)] = manifest
        return tuple(by_ref[ref] for ref in sorted(by_ref, key=_order))


def _order(ref: ObjectRef) -> tuple[int, str, str]:
    rank = {"Namespace": 0, "Deployment": 1, "HorizontalPodAutoscaler": 2}
    return rank.get(ref.kind, 3), ref.kind, ref.name


def known_objects(model: str, ns: str) -> tuple[ObjectRef, ...]:
    """Every object Clearance may create for ``model`` in ``ns`` (the namespace excepted)."""
    workloads = [
        model,
        colour_name(model, "blue"),
        colour_name(model, "green"),
        canary_name(model),
        shadow_name(model),
    ]
    refs = [
        ObjectRef(api_version=api, kind=kind, namespace=ns, name=w)
        for w in workloads
        for api, kind in (
            ("apps/v1", "Deployment"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("policy/v1", "PodDisruptionBudget"),
        )
    ]
    refs.append(
        ObjectRef(
            api_version="networking.k8s.io/v1", kind="NetworkPolicy", namespace=ns, name=model
        )
    )
    for name in (model, canary_name(model), shadow_name(model), discard_name(model)):
        refs.append(ObjectRef(api_version="v1", kind="Service", namespace=ns, name=name))
        refs.append(
            ObjectRef(api_version="networking.k8s.io/v1", kind="Ingress", namespace=ns, name=name)
        )
    return tuple(refs)


def _phase(
    plan: DeploymentPlan,
    step: str,
    *,
    first: tuple[Manifest, ...] = (),
    ready: tuple[str, ...] = (),
    then: tuple[Manifest, ...] = (),
    keep: tuple[Manifest, ...] = (),
    gate: tuple[str, ...] = (),
) -> K8sPhase:
    aks = plan.aks
    tls = aks.ingress_tls if aks else None
    first, then, keep = (tuple(with_tls(m, tls) for m in part) for part in (first, then, keep))
    if first or then or keep:  # every phase that runs the model also fences it
        ingress_namespace = aks.ingress_namespace if aks else "app-routing-system"
        policy = network_policy(plan.release, ingress_namespace)
        first = (*first[:1], policy, *first[1:]) if first else (policy,)
    draft = K8sPhase(step=step, first=first, ready=ready, then=then, keep=keep, gate=gate)
    wanted = {ObjectRef.of(m) for m in draft.desired}
    delete = tuple(r for r in known_objects(plan.model, plan.namespace) if r not in wanted)
    return K8sPhase(
        step=step, first=first, ready=ready, then=then, keep=keep, delete=delete, gate=gate
    )


def _serving(plan: DeploymentPlan, release: Revision) -> tuple[Manifest, ...]:
    """The live workload, the Service selecting it and the plain Ingress."""
    m = plan.model
    return (
        *workload(release, release.workload, release.track),
        service(release, m, release.workload),
        ingress(release, m, m, host(m, plan.region)),
    )


def _converge(
    plan: DeploymentPlan, release: Revision, step: str, gate: tuple[str, ...]
) -> K8sPhase:
    """Run ``release`` in its own workload, then point the Service at it; drop the rest."""
    m = plan.model
    return _phase(
        plan,
        step,
        first=(namespace(plan.namespace), *workload(release, release.workload, release.track)),
        ready=(release.workload,),
        then=(service(release, m, release.workload), ingress(release, m, m, host(m, plan.region))),
        gate=gate,
    )


def _candidate(plan: DeploymentPlan, steps: tuple[Step, ...], index: int) -> tuple[str, ...]:
    """The Deployment whose health gates step ``index``: what the step before started."""
    if not steps[index].gated or index == 0:
        return ()
    previous = steps[index - 1].name
    if previous.startswith("canary-"):
        return (canary_name(plan.model),)
    if previous == "shadow":
        return (shadow_name(plan.model),)
    return (plan.release.workload,)


def phase_for(plan: DeploymentPlan, index: int) -> K8sPhase:
    steps = steps_for(plan)
    step = steps[index]
    new, old, m = plan.release, plan.replaces, plan.model
    gate = _candidate(plan, steps, index)
    ns = namespace(plan.namespace)
    if step.name in ("promote", "restore"):
        return _converge(plan, new, step.name, gate)
    if step.name.startswith("deploy-"):
        keep = _serving(plan, old) if old is not None else ()
        return _phase(
            plan,
            step.name,
            first=(ns, *workload(new, new.workload, new.track)),
            ready=(new.workload,),
            keep=keep,
        )
    if step.name == "switch":
        keep_old = workload(old, old.workload, old.track) if old is not None else ()
        return _phase(
            plan,
            step.name,
            first=(ns,),
            then=(service(new, m, new.workload), ingress(new, m, m, host(m, plan.region))),
            keep=(*keep_old, *workload(new, new.workload, new.track)),
            gate=gate,
        )
    if step.name == "retire":
        return _phase(plan, step.name, first=(ns,), keep=_serving(plan, new), gate=gate)
    if old is None:
        raise ValueError(f"step {step.name} needs a previous revision")
    if step.name.startswith("canary-"):
        c = canary_name(m)
        weight = step.weight or 0
        return _phase(
            plan,
            step.name,
            first=(
                ns,
                *workload(new, c, "canary"),
                service(new, c, c),
                ingress(new, c, c, host(m, plan.region), canary_weight=weight),
            ),
            ready=(c,),
            keep=_serving(plan, old),
            gate=gate,
        )
    if step.name == "shadow":
        return _shadow(plan, step, old)
    raise ValueError(f"unknown step {step.name}")


def _shadow(plan: DeploymentPlan, step: Step, old: Revision) -> K8sPhase:
    new, m = plan.release, plan.model
    s, x = shadow_name(m), discard_name(m)
    mirrored = step.weight or 100
    track: Track = "shadow"
    shadow_objects = [
        *workload(new, s, track),
        service(new, s, s),
        ingress(new, s, s, shadow_host(m, plan.region)),
    ]
    if mirrored < 100:
        # The mirror copies every request; the discard canary drops the share not mirrored.
        shadow_objects += [
            service(new, x, None),
            ingress(new, x, x, shadow_host(m, plan.region), canary_weight=100 - mirrored),
        ]
    mirror = ingress(old, m, m, host(m, plan.region), mirror_host=shadow_host(m, plan.region))
    return _phase(
        plan,
        step.name,
        first=(namespace(plan.namespace), *shadow_objects),
        ready=(s,),
        then=(mirror,),
        keep=(*workload(old, old.workload, old.track), service(old, m, old.workload)),
    )


def remove_phase(plan: DeploymentPlan) -> K8sPhase:
    """Every object of the model in the plan's namespace goes (the namespace stays)."""
    return _phase(plan, "remove")


def restore_phase(plan: DeploymentPlan) -> K8sPhase:
    """Bring back what ran before the plan, exactly as it ran; nothing, if nothing ran."""
    if plan.replaces is None:
        return _phase(plan, "remove")
    return _converge(plan, plan.replaces, "restore-previous", ())
