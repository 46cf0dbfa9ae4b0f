"""The aml driver against a fake of its port, and its entities validated by azure-ai-ml."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.adapters.aml.entities import build_deployment, build_endpoint
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.aml import aml_phase, aml_restore_phase
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.deploy.plan import DeploymentPlan, build_plan
from shared.domain.deploy.revision import Revision
from shared.domain.deploy.steps import steps_for
from shared.services.deploy.drivers.aml import AmlDeployer
from tests.support import deploy_samples as s
from tests.support.deploy_fakes import FakeAmlEndpoints

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
EP = "churn-model"


def plan(cell: RegionEntry, version: str, strategy: str, live: Revision | None) -> DeploymentPlan:
    return build_plan(s.aml_request(cell, s.aml_metadata(strategy, version)), cell, live)


def run_all(driver: AmlDeployer, p: DeploymentPlan) -> Revision:
    for i in range(len(steps_for(p))):
        if steps_for(p)[i].gated:
            assert driver.check_health(p, i).healthy
        driver.run_step(p, i)
    return p.release.model_copy(update={"since": datetime.now(UTC)})


def test_canary_moves_endpoint_traffic_then_retires_the_old_deployment(
    cell: RegionEntry,
) -> None:
    fake = FakeAmlEndpoints()
    driver = AmlDeployer(lambda p: fake)
    v3 = run_all(driver, plan(cell, "3", "rolling", None))
    assert fake.serving(EP) == {"blue": "azureml:churn-model:3"}
    fake.traffic_history.clear()
    run_all(driver, plan(cell, "4", "canary", v3))
    assert fake.traffic_history == [
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"green": 100},
    ]
    assert fake.serving(EP) == {"green": "azureml:churn-model:4"}
    assert set(fake.deployments) == {(EP, "green")}


def test_blue_green_keeps_the_old_deployment_until_retired(cell: RegionEntry) -> None:
    fake = FakeAmlEndpoints()
    driver = AmlDeployer(lambda p: fake)
    v3 = run_all(driver, plan(cell, "3", "rolling", None))
    p = plan(cell, "4", "blue-green", v3)
    driver.run_step(p, 0)
    assert fake.serving(EP) == {"blue": "azureml:churn-model:3"}
    driver.run_step(p, 1)
    assert fake.serving(EP) == {"green": "azureml:churn-model:4"}
    assert (EP, "blue") in fake.deployments
    driver.run_step(p, 2)
    assert set(fake.deployments) == {(EP, "green")}


def test_failed_provisioning_fails_and_restore_returns_traffic(cell: RegionEntry) -> None:
    fake = FakeAmlEndpoints()
    driver = AmlDeployer(lambda p: fake)
    v3 = run_all(driver, plan(cell, "3", "rolling", None))
    p = plan(cell, "4", "canary", v3)
    fake.failing_models.add("azureml:churn-model:4")
    with pytest.raises(RolloutFailed):
        driver.run_step(p, 0)
    assert not driver.check_health(p, 1).healthy
    fake.failing_models.clear()
    driver.restore(p)
    assert fake.serving(EP) == {"blue": "azureml:churn-model:3"}
    assert set(fake.deployments) == {(EP, "blue")}


@pytest.mark.parametrize("strategy", ["rolling", "blue-green", "canary"])
def test_every_spec_is_a_valid_kubernetes_entity_for_azure_ml(
    cell: RegionEntry, strategy: str
) -> None:
    from azure.ai.ml.entities import KubernetesOnlineDeployment, KubernetesOnlineEndpoint

    v3 = plan(cell, "3", "rolling", None).release.model_copy(update={"since": datetime.now(UTC)})
    p = plan(cell, "4", strategy, v3)
    phases = [aml_phase(p, i) for i in range(len(steps_for(p)))] + [aml_restore_phase(p)]
    for phase in phases:
        endpoint = build_endpoint(phase.endpoint)
        assert isinstance(endpoint, KubernetesOnlineEndpoint)
        assert endpoint.compute == "aks-westeurope"
        assert dict(endpoint.traffic or {}) == phase.traffic
        if phase.deploy is not None:
            deployment = build_deployment(phase.deploy)
            assert isinstance(deployment, KubernetesOnlineDeployment)
            assert deployment.endpoint_name == EP
            assert deployment.instance_count == 2 and deployment.instance_type == "cpu-small"
            assert deployment.tags["clearance.approval-id"] == p.release.approval_id or (
                deployment.tags["clearance.approval-id"] == v3.approval_id
            )


def test_the_sdk_schema_refuses_a_wrong_spec(cell: RegionEntry) -> None:
    spec = aml_phase(plan(cell, "3", "rolling", None), 0).deploy
    assert spec is not None
    with pytest.raises(PlanError, match="instance_count"):
        build_deployment({**spec, "instance_count": "two"})
    with pytest.raises(PlanError, match="Unknown field"):
        build_deployment({**spec, "sidecar": "yes"})


def test_shadow_is_refused_for_kubernetes_online_endpoints(cell: RegionEntry) -> None:
    spec = aml_phase(plan(cell, "3", "rolling", None), 0).endpoint
    with pytest.raises(PlanError) as exc:
        build_endpoint({**spec, "mirror_traffic": {"blue": 10}})
    assert exc.value.violation.code == DeployCode.STRATEGY_UNSUPPORTED


def test_remove_deletes_the_deployment_and_its_traffic_and_repeats_harmlessly(
    cell: RegionEntry,
) -> None:
    from shared.domain.deploy.plan import removal_plan

    fake = FakeAmlEndpoints()
    driver = AmlDeployer(lambda p: fake)
    v3 = run_all(driver, plan(cell, "3", "rolling", None))
    gone = removal_plan(cell, "prod", v3, "clearance-expiry@westeurope")
    driver.remove(gone)
    assert fake.deployments == {} and fake.endpoints[EP]["traffic"] == {}
    driver.remove(gone)  # a second timer run: nothing left, nothing fails
    assert fake.deployments == {}
    assert AmlDeployer(lambda p: FakeAmlEndpoints()).remove(gone).details["traffic"] == (
        "no endpoint"
    )
