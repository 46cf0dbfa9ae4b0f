"""The deployment-requests trigger on the local Functions host: a request on the cell's queue
becomes a commit in the region's own GitOps repository, with lineage and state."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import azure.functions as func
import pytest

from functions import deployment_requests
from shared.adapters.storage.deployment_state import TableDeploymentStateStore
from shared.composition import Container
from shared.local.devhost.server import DevHost
from shared.local.stack import LocalStack
from shared.ports.messaging import OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS
from tests.conftest import wait_for
from tests.support import deploy_samples as s

pytestmark = pytest.mark.stack

HOST_JSON = {
    "extensions": {
        "queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:01",
                   "maxPollingInterval": "00:00:00.2"},
        "serviceBus": {"maxConcurrentCalls": 2},
    }
}  # fmt: skip


@pytest.fixture(scope="module")
def westeurope(stack: LocalStack, cell_container: Callable[[str], Container]) -> Container:
    remote = stack.gitops_repo("westeurope")
    if not remote.exists():
        subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(remote)], check=True)
    return cell_container("westeurope")


@pytest.fixture(scope="module")
def host(westeurope: Container) -> Iterator[DevHost]:
    # In-process host: the trigger's composition root is this cell's container (the host
    # processes of the stack read it from their settings).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deployment_requests, "get_container", lambda: westeurope)
        app = func.FunctionApp()
        app.register_functions(deployment_requests.bp)
        h = DevHost(
            app, port=0, host_json=HOST_JSON, container=westeurope, registry_event_function=None
        ).start()
        yield h
        h.stop()


def test_a_request_on_the_queue_becomes_a_commit_in_the_regions_repository(
    host: DevHost, westeurope: Container, stack: LocalStack
) -> None:
    region = westeurope.settings.cell
    md = s.image_metadata("rolling", "7.0.0", name="local-e2e-model")
    request = s.image_request(region, md)
    westeurope.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(body=request.model_dump_json().encode(), message_id=request.message_id),
    )
    store = TableDeploymentStateStore(westeurope.table_service)

    def live() -> object:
        state, _ = store.get("westeurope", md.name)
        return state.live

    revision = wait_for(live, timeout=30)
    commit = revision.where["gitops_commit"]
    remote = Path(stack.gitops_repo("westeurope"))
    message = subprocess.run(
        ["git", "-C", str(remote), "log", "-1", "--format=%H%n%B", "main"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert message.splitlines()[0] == commit
    assert f"Artifact-Digest: {request.artifact.digest}" in message
    assert f"Approval-Id: {request.approval_id}" in message
