"""The kubernetes driver's logic against a fake of its small cluster port."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.deploy.plan import DeploymentPlan, build_plan
from shared.domain.deploy.revision import Revision
from shared.domain.deploy.steps import steps_for
from shared.domain.errors import TransientError
from shared.services.deploy.drivers.kubernetes import KubernetesDeployer
from tests.support import deploy_samples as s
from tests.support.deploy_fakes import DEADLINE, DEGRADES, STUCK, FakeCluster

NS = "model-fraud-detector"


class Ticks:
    """A monotonic clock that moves one second per reading: no real waiting."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def driver(cluster: FakeCluster, timeout: float = 30.0) -> KubernetesDeployer:
    return KubernetesDeployer(lambda plan: cluster, rollout_timeout=timeout, monotonic=Ticks())


def live_v1(cell: RegionEntry, cluster: FakeCluster, strategy: str = "rolling") -> Revision:
    plan = build_plan(s.image_request(cell, s.image_metadata(strategy, "1")), cell, None)
    d = driver(cluster)
    for i in range(len(steps_for(plan))):
        d.run_step(plan, i)
    return plan.release.model_copy(update={"since": datetime.now(UTC)})


def plan_v2(cell: RegionEntry, live: Revision | None, strategy: str) -> DeploymentPlan:
    return build_plan(s.image_request(cell, s.image_metadata(strategy, "2")), cell, live)


def test_rolling_applies_waits_and_points_the_service_at_the_workload(
    cell: RegionEntry,
) -> None:
    cluster = FakeCluster()
    plan = plan_v2(cell, None, "rolling")
    report = driver(cluster).run_step(plan, 0)
    assert cluster.image(NS, "fraud-detector") == plan.release.image
    assert cluster.selector(NS, "fraud-detector") == {"clearance.ai/workload": "fraud-detector"}
    assert cluster.names("HorizontalPodAutoscaler") == ["fraud-detector"]
    assert cluster.names("PodDisruptionBudget") == ["fraud-detector"]
    assert cluster.names("Namespace") == []  # pre-created by Terraform per model team
    assert report.where == {"namespace": NS, "workload": "fraud-detector",
                            "cluster": "aks-westeurope"}  # fmt: skip
    # the Service is switched only after the Deployment was applied and waited for
    order = [(r.kind, r.name) for r in cluster.applied]
    assert order.index(("Deployment", "fraud-detector")) < order.index(
        ("Service", "fraud-detector")
    )


def test_progress_deadline_exceeded_fails_the_step(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    plan = plan_v2(cell, None, "rolling")
    cluster.behaviour[str(plan.release.artifact.digest)] = DEADLINE
    with pytest.raises(RolloutFailed) as exc:
        driver(cluster).run_step(plan, 0)
    assert exc.value.violation.code == DeployCode.PROGRESS_DEADLINE
    assert cluster.get("Service", NS, "fraud-detector") is None  # never switched


def test_a_rollout_that_does_not_finish_in_time_fails_the_step(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    plan = plan_v2(cell, None, "rolling")
    cluster.behaviour[str(plan.release.artifact.digest)] = STUCK
    with pytest.raises(RolloutFailed) as exc:
        driver(cluster, timeout=5).run_step(plan, 0)
    assert exc.value.violation.code == DeployCode.TIMEOUT
    assert "0 of 2 new replicas updated" in exc.value.violation.message


def test_restore_brings_back_exactly_the_previous_pod_template(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    v1 = live_v1(cell, cluster)
    before = cluster.get("Deployment", NS, "fraud-detector")
    assert before is not None
    plan = plan_v2(cell, v1, "rolling")
    cluster.behaviour[str(plan.release.artifact.digest)] = DEADLINE
    d = driver(cluster)
    with pytest.raises(RolloutFailed):
        d.run_step(plan, 0)
    assert cluster.image(NS, "fraud-detector") == plan.release.image
    d.restore(plan)
    after = cluster.get("Deployment", NS, "fraud-detector")
    assert after is not None
    assert after["spec"]["template"] == before["spec"]["template"]
    assert cluster.image(NS, "fraud-detector") == v1.image


def test_restore_of_a_first_deployment_removes_it(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    plan = plan_v2(cell, None, "rolling")
    d = driver(cluster)
    d.run_step(plan, 0)
    d.restore(plan)
    assert cluster.names("Deployment") == []
    assert cluster.names("Service") == []
    assert "Namespace" not in {ref.kind for ref in cluster.deleted}  # never deleted


def test_blue_green_keeps_the_old_colour_until_retired(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    v1 = live_v1(cell, cluster, "blue-green")
    assert cluster.selector(NS, "fraud-detector") == {
        "clearance.ai/workload": "fraud-detector-blue"
    }
    plan = plan_v2(cell, v1, "blue-green")
    d = driver(cluster)
    d.run_step(plan, 0)  # deploy-green: alongside, traffic still on blue
    assert cluster.names("Deployment") == ["fraud-detector-blue", "fraud-detector-green"]
    assert cluster.selector(NS, "fraud-detector") == {
        "clearance.ai/workload": "fraud-detector-blue"
    }
    assert d.check_health(plan, 1).healthy
    d.run_step(plan, 1)  # switch
    assert cluster.selector(NS, "fraud-detector") == {
        "clearance.ai/workload": "fraud-detector-green"
    }
    assert "fraud-detector-blue" in cluster.names("Deployment")  # kept for instant rollback
    d.run_step(plan, 2)  # retire
    assert cluster.names("Deployment") == ["fraud-detector-green"]


def test_canary_steps_through_the_weights_then_promotes(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    v1 = live_v1(cell, cluster)
    plan = plan_v2(cell, v1, "canary")
    d = driver(cluster)
    weights = []
    for i in range(2):
        if i:
            assert d.check_health(plan, i).healthy
        d.run_step(plan, i)
        canary = cluster.get("Ingress", NS, "fraud-detector-canary")
        assert canary is not None
        weights.append(
            canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
        )
        assert cluster.image(NS, "fraud-detector") == v1.image  # stable untouched
        assert cluster.image(NS, "fraud-detector-canary") == plan.release.image
    assert weights == ["10", "50"]
    d.run_step(plan, 2)
    assert cluster.image(NS, "fraud-detector") == plan.release.image
    assert cluster.names("Deployment") == ["fraud-detector"]
    assert cluster.names("Ingress") == ["fraud-detector"]


def test_a_canary_that_degrades_fails_the_gate(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    v1 = live_v1(cell, cluster)
    plan = plan_v2(cell, v1, "canary")
    cluster.behaviour[str(plan.release.artifact.digest)] = DEGRADES
    d = driver(cluster)
    d.run_step(plan, 0)
    health = d.check_health(plan, 1)
    assert not health.healthy
    assert "fraud-detector-canary" in health.reason and "crash-looping" in health.reason


def test_shadow_mirrors_a_share_and_discards_the_rest(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    v1 = live_v1(cell, cluster)
    plan = plan_v2(cell, v1, "shadow")
    d = driver(cluster)
    d.run_step(plan, 0)
    main = cluster.get("Ingress", NS, "fraud-detector")
    assert main is not None
    notes = main["metadata"]["annotations"]
    shadow_host = "fraud-detector.shadow.westeurope.clearance.internal"
    assert notes["nginx.ingress.kubernetes.io/mirror-host"] == shadow_host
    assert notes["nginx.ingress.kubernetes.io/mirror-target"].endswith("$request_uri")
    discard = cluster.get("Ingress", NS, "fraud-detector-shadow-discard")
    assert discard is not None
    assert discard["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "80"
    assert cluster.selector(NS, "fraud-detector-shadow-discard") == {"clearance.ai/discard": "true"}
    assert cluster.selector(NS, "fraud-detector") == {"clearance.ai/workload": "fraud-detector"}
    assert cluster.image(NS, "fraud-detector") == v1.image  # users are served by v1
    d.run_step(plan, 1)
    assert cluster.image(NS, "fraud-detector") == plan.release.image
    assert cluster.names("Ingress") == ["fraud-detector"]
    promoted = cluster.get("Ingress", NS, "fraud-detector")
    assert promoted is not None and "annotations" not in promoted["metadata"]


def test_an_unreachable_api_server_is_transient(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    cluster.unreachable = True
    with pytest.raises(TransientError):
        driver(cluster).run_step(plan_v2(cell, None, "rolling"), 0)


def test_a_refused_object_is_a_plan_error(cell: RegionEntry) -> None:
    cluster = FakeCluster()
    cluster.forbidden_kinds.add("Service")
    with pytest.raises(PlanError):
        driver(cluster).run_step(plan_v2(cell, None, "rolling"), 0)


def test_the_adapter_reads_a_v1_deployment_as_the_drivers_status() -> None:
    from kubernetes.client import (
        V1Deployment,
        V1DeploymentCondition,
        V1DeploymentSpec,
        V1DeploymentStatus,
        V1LabelSelector,
        V1ObjectMeta,
        V1PodTemplateSpec,
    )

    from shared.adapters.kubernetes.cluster import to_status

    deployment = V1Deployment(
        metadata=V1ObjectMeta(name="m", generation=4),
        spec=V1DeploymentSpec(replicas=3, selector=V1LabelSelector(), template=V1PodTemplateSpec()),
        status=V1DeploymentStatus(
            observed_generation=4,
            replicas=4,
            updated_replicas=3,
            available_replicas=3,
            ready_replicas=3,
            conditions=[
                V1DeploymentCondition(type="Progressing", status="True", reason="ReplicaSetUpdated")
            ],
        ),
    )
    status = to_status(deployment)
    assert (status.generation, status.replicas, status.total_replicas) == (4, 3, 4)
    from shared.domain.deploy.k8s_status import rollout_progress

    assert rollout_progress(status).message == "1 old replicas pending termination"


def test_the_driver_never_applies_a_namespace_unless_told(cell: RegionEntry) -> None:
    """Clearance's AKS role is namespace-scoped: a cluster-scoped Namespace apply is a 403."""
    cluster = FakeCluster()
    cluster.forbidden_kinds.add("Namespace")
    plan = plan_v2(cell, None, "rolling")
    driver(cluster).run_step(plan, 0)
    assert "Namespace" not in {ref.kind for ref in cluster.applied}
    told = FakeCluster()
    KubernetesDeployer(lambda p: told, monotonic=Ticks(), apply_namespaces=True).run_step(plan, 0)
    assert told.names("Namespace") == [NS]
