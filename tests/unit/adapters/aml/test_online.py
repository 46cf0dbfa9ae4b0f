"""``AmlOnlineEndpoints`` on the wire: a real ``MLClient`` over an azure-core transport that
plays recorded ARM shapes, so the SDK's pollers, retry policy and error mapping run as they
do against Azure (long-running operations in progress, done, failed; throttling)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from shared.adapters.aml.online import AmlOnlineEndpoints, ml_client
from shared.domain.deploy.aml import Spec, aml_phase
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.deploy.plan import build_plan
from shared.domain.errors import TransientError
from shared.ports.deploy import StepPending
from tests.support import deploy_samples as s
from tests.support.azure_wire import Reply, Route, StaticCredential, WireTransport, error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WS = (
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
)
EP = f"{WS}/onlineEndpoints/churn-model"
DEP = f"{EP}/deployments/blue"
OP = "https://management.azure.com/operations/op-1"


def endpoint_body(state: str = "Succeeded", traffic: dict[str, int] | None = None) -> Any:
    return {
        "id": EP,
        "name": "churn-model",
        "location": "westeurope",
        "properties": {
            "authMode": "AMLToken",
            "provisioningState": state,
            "traffic": traffic or {},
        },
    }


def deployment_body(state: str = "Succeeded") -> Any:
    return {
        "id": DEP,
        "name": "blue",
        "location": "westeurope",
        "sku": {"name": "Default", "capacity": 2},
        "properties": {
            "endpointComputeType": "Kubernetes",
            "provisioningState": state,
            "model": "azureml:churn-model:3",
            "instanceType": "cpu-small",
            "scaleSettings": {"scaleType": "Default"},
            "containerResourceRequirements": {},
        },
    }


ACCEPTED = {"Azure-AsyncOperation": OP, "Retry-After": "0"}


OPEN: list[WireTransport] = []


@pytest.fixture(autouse=True)
def finish_operations() -> Any:
    """Pollers left running by a pending step poll on in their threads (as they would in the
    worker, until Azure ML finishes): finish every operation so no thread outlives the test."""
    yield
    for transport in OPEN:
        transport.add("GET", r"/operations/op-1$", Reply(200, {"status": "Succeeded"}))
    OPEN.clear()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        t.name.startswith("LROPoller") for t in threading.enumerate()
    ):
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("LROPoller")]


def wire(*extra: Route) -> WireTransport:
    transport = _wire(*extra)
    OPEN.append(transport)
    return transport


def _wire(*extra: Route) -> WireTransport:
    return WireTransport(
        *extra,
        Route(
            "GET",
            r"/workspaces/ws$",
            [Reply(200, {"id": WS, "name": "ws", "location": "westeurope", "properties": {}})],
        ),
        Route("GET", r"/onlineEndpoints/churn-model$", [Reply(200, endpoint_body())]),
        Route("GET", r"/deployments/blue$", [Reply(200, deployment_body())]),
        Route("GET", r"/churn-model/deployments$", [Reply(200, {"value": []})]),
        Route(
            "PUT",
            r"/onlineEndpoints/churn-model$",
            [Reply(201, endpoint_body("Creating"), ACCEPTED)],
        ),
        Route("PUT", r"/deployments/blue$", [Reply(201, deployment_body("Creating"), ACCEPTED)]),
        Route(
            "DELETE",
            r"/deployments/blue$",
            [Reply(202, None, {**ACCEPTED, "Location": OP + "-result"})],
        ),
        Route("GET", r"/operations/op-1$", [Reply(200, {"status": "Succeeded"})]),
        Route("GET", r"/operations/op-1-result$", [Reply(204)]),
    )


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.ai.ml.constants._common import LROConfigurations

    monkeypatch.setattr(LROConfigurations, "POLL_INTERVAL", 0.05)


def specs() -> tuple[Spec, Spec]:
    cell = s.cell()
    phase = aml_phase(
        build_plan(s.aml_request(cell, s.aml_metadata("rolling", "3")), cell, None), 0
    )
    assert phase.deploy is not None
    return {**phase.endpoint, "traffic": {}}, phase.deploy


def adapter(transport: WireTransport, budget: float = 30.0, **kwargs: Any) -> AmlOnlineEndpoints:
    kwargs.setdefault("polling_interval", 0.05)  # the generated clients' default is 30 s
    client = ml_client(StaticCredential(), "sub", "rg", "ws", transport=transport, **kwargs)
    return AmlOnlineEndpoints(client, budget=budget, state_poll=0.05)


def test_an_operation_that_finishes_is_waited_for_through_the_async_operation() -> None:
    t = wire(
        Route(
            "GET",
            r"/operations/op-1$",
            [
                Reply(200, {"status": "InProgress"}),
                Reply(200, {"status": "InProgress"}),
                Reply(200, {"status": "Succeeded"}),
            ],
        )
    )
    endpoint, deployment = specs()
    aml = adapter(t)
    aml.upsert_endpoint(endpoint)
    aml.upsert_deployment(deployment)
    assert t.unexpected == []
    put = t.requests("PUT", r"/deployments/blue$")[0].json()
    assert (
        put["properties"]["model"].endswith("churn-model/versions/3")
        or "churn-model" in put["properties"]["model"]
    )
    assert len(t.requests("GET", r"/operations/op-1$")) >= 3


def test_a_wait_that_outlives_the_budget_is_pending_not_done() -> None:
    """The finding: ``result(timeout=...)`` returned while the deployment was still
    provisioning, and traffic then moved to it. Now the step is pending."""
    t = wire(Route("GET", r"/operations/op-1$", [Reply(200, {"status": "InProgress"}, delay=0.05)]))
    _, deployment = specs()
    started = time.monotonic()
    with pytest.raises(StepPending, match="still running"):
        adapter(t, budget=0.5).upsert_deployment(deployment)
    assert time.monotonic() - started < 5


def test_all_waits_of_a_step_share_one_budget() -> None:
    t = wire(Route("GET", r"/operations/op-1$", [Reply(200, {"status": "InProgress"}, delay=0.05)]))
    endpoint, deployment = specs()
    aml = adapter(t, budget=0.4)
    with pytest.raises(StepPending):
        aml.upsert_endpoint(endpoint)
    started = time.monotonic()
    with pytest.raises(StepPending):  # the budget is spent: no second long wait
        aml.upsert_deployment(deployment)
    assert time.monotonic() - started < 1.0


def test_a_step_run_again_waits_on_the_provisioning_under_way_instead_of_restarting() -> None:
    t = wire(
        Route(
            "GET",
            r"/deployments/blue$",
            [Reply(200, deployment_body("Updating")), Reply(200, deployment_body("Succeeded"))],
            repeat_last=True,
        )
    )
    _, deployment = specs()
    adapter(t).upsert_deployment(deployment)
    assert len(t.requests("PUT", r"/deployments/blue$")) == 1
    gets = t.requests("GET", r"/deployments/blue$")
    assert t.seen.index(gets[1]) < t.seen.index(t.requests("PUT", r"/deployments/blue$")[0])


def test_the_provisioning_state_is_the_service_spelling_not_the_sdk_enum() -> None:
    """The health gate compares with "Succeeded"; the SDK hands back an enum whose str() is
    "DeploymentProvisioningState.SUCCEEDED", which no gate would ever pass."""
    assert adapter(wire()).deployment_state("churn-model", "blue") == "Succeeded"


def test_still_updating_past_the_budget_is_pending_without_a_second_put() -> None:
    t = wire(Route("GET", r"/deployments/blue$", [Reply(200, deployment_body("Updating"))]))
    _, deployment = specs()
    with pytest.raises(StepPending, match="Updating"):
        adapter(t, budget=0.3).upsert_deployment(deployment)
    assert t.requests("PUT", r"/deployments/blue$") == []


def test_a_failed_provisioning_is_a_rollout_failure() -> None:
    failed = {"status": "Failed", "error": {"code": "ImagePullFailed", "message": "no such image"}}
    t = wire(
        Route(
            "GET", r"/operations/op-1$", [Reply(200, {"status": "InProgress"}), Reply(200, failed)]
        )
    )
    _, deployment = specs()
    with pytest.raises(RolloutFailed) as caught:
        adapter(t).upsert_deployment(deployment)
    assert caught.value.violation.code == DeployCode.PROVISIONING_FAILED


def test_a_delete_that_outlives_the_budget_is_pending() -> None:
    t = wire(Route("GET", r"/operations/op-1$", [Reply(200, {"status": "InProgress"}, delay=0.05)]))
    with pytest.raises(StepPending):
        adapter(t, budget=0.3).delete_deployment("churn-model", "blue")


def test_deleting_what_is_gone_is_done() -> None:
    t = wire(Route("DELETE", r"/deployments/blue$", [error(404, "NotFound", "gone")]))
    adapter(t).delete_deployment("churn-model", "blue")


def test_throttling_is_retried_after_retry_after_then_succeeds() -> None:
    t = wire(
        Route(
            "GET",
            r"/onlineEndpoints/churn-model$",
            [
                error(429, "TooManyRequests", "slow down", **{"Retry-After": "1"}),
                Reply(200, endpoint_body(traffic={"blue": 100})),
            ],
        )
    )
    started = time.monotonic()
    assert adapter(t).get_traffic("churn-model") == {"blue": 100}
    assert time.monotonic() - started >= 0.9  # the SDK honoured Retry-After


def test_throttling_that_lasts_is_transient() -> None:
    t = wire(
        Route(
            "GET",
            r"/onlineEndpoints/churn-model$",
            [error(429, "TooManyRequests", "slow down", **{"Retry-After": "0"})],
        )
    )
    with pytest.raises(TransientError, match="429"):
        adapter(t, retry_total=1).get_traffic("churn-model")


def test_a_missing_endpoint_is_none_and_a_missing_workspace_is_a_plan_error() -> None:
    t = wire(
        Route("GET", r"/onlineEndpoints/churn-model$", [error(404, "NotFound", "no endpoint")]),
        Route("GET", r"/workspaces/ws$", [error(404, "ResourceNotFound", "no workspace")]),
    )
    aml = adapter(t)
    assert aml.get_traffic("churn-model") is None
    endpoint, _ = specs()
    with pytest.raises(PlanError) as caught:  # was: ResourceNotFoundError escaped the port
        aml.upsert_endpoint(endpoint)
    assert caught.value.violation.code == DeployCode.NO_TARGET


def test_a_refused_identity_is_terminal_and_a_missing_token_transient() -> None:
    from azure.core.exceptions import ClientAuthenticationError

    t = wire(
        Route(
            "GET",
            r"/onlineEndpoints/churn-model$",
            [error(401, "InvalidAuthenticationToken", "bad token")],
        )
    )
    with pytest.raises(PlanError, match="identity"):
        adapter(t).get_traffic("churn-model")
    client = ml_client(
        StaticCredential(ClientAuthenticationError("IMDS unavailable")),
        "sub",
        "rg",
        "ws",
        transport=wire(),
    )
    with pytest.raises(TransientError, match="credential"):
        AmlOnlineEndpoints(client).get_traffic("churn-model")


def test_a_refused_spec_is_a_plan_error_and_a_server_error_transient() -> None:
    _, deployment = specs()
    t = wire(
        Route("PUT", r"/deployments/blue$", [error(400, "BadArgument", "instance type unknown")])
    )
    with pytest.raises(PlanError, match="instance type unknown"):
        adapter(t).upsert_deployment(deployment)
    t = wire(Route("PUT", r"/deployments/blue$", [error(503, "Unavailable", "later")]))
    with pytest.raises(TransientError):
        adapter(t, retry_total=0).upsert_deployment(deployment)


def test_an_sdk_validation_error_is_a_plan_error() -> None:
    from azure.ai.ml.exceptions import ErrorCategory, ErrorTarget, MlException

    class Client:
        class online_endpoints:
            @staticmethod
            def get(name: str) -> Any:
                raise MlException(
                    message="model reference is malformed",
                    no_personal_data_message="malformed",
                    target=ErrorTarget.ONLINE_DEPLOYMENT,
                    error_category=ErrorCategory.USER_ERROR,
                )

    with pytest.raises(PlanError, match="malformed"):
        AmlOnlineEndpoints(Client()).get_traffic("churn-model")


def test_through_the_driver_traffic_never_moves_to_a_deployment_still_provisioning() -> None:
    """The finding end to end: the deployment's operation outlives the step's budget; the
    step is pending and the endpoint is never PUT with traffic to it."""
    from shared.services.deploy.drivers.aml import AmlDeployer

    t = wire(
        Route(
            "GET",
            r"/onlineEndpoints/churn-model$",
            [error(404, "NotFound", "new endpoint"), Reply(200, endpoint_body())],
        ),
        Route(
            "PUT",
            r"/onlineEndpoints/churn-model$",
            [
                Reply(
                    201,
                    endpoint_body("Creating"),
                    {"Azure-AsyncOperation": OP + "-ep", "Retry-After": "0"},
                )
            ],
        ),
        Route("GET", r"/operations/op-1-ep$", [Reply(200, {"status": "Succeeded"})]),
        Route("GET", r"/operations/op-1$", [Reply(200, {"status": "InProgress"}, delay=0.05)]),
        Route(
            "GET",
            r"/deployments/blue$",
            [error(404, "NotFound", "new deployment"), Reply(200, deployment_body("Creating"))],
        ),
    )
    client = ml_client(StaticCredential(), "sub", "rg", "ws", transport=t, polling_interval=0.05)
    driver = AmlDeployer(lambda p: AmlOnlineEndpoints(client, budget=1.0, state_poll=0.05))
    cell = s.cell()
    plan = build_plan(s.aml_request(cell, s.aml_metadata("rolling", "3")), cell, None)
    with pytest.raises(StepPending):
        driver.run_step(plan, 0)
    traffic = [
        r.json()["properties"].get("traffic")
        for r in t.requests("PUT", r"/onlineEndpoints/churn-model$")
    ]
    assert traffic == [{}]  # created without traffic; never pointed at "blue"
