"""The deployment state store against Azurite: ETag concurrency, round trips, live summary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shared.adapters.storage.deployment_state import TableDeploymentStateStore, live_summary
from shared.composition import Container
from shared.domain.deploy.plan import build_plan
from shared.domain.deploy.state import DeploymentState
from shared.ports.deploy import StateConflict
from tests.support import deploy_samples as s

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def store(cell_container: Callable[[str], Container]) -> TableDeploymentStateStore:
    return TableDeploymentStateStore(cell_container("westeurope").table_service)


def test_round_trip_with_etag_concurrency(store: TableDeploymentStateStore) -> None:
    model = f"m-{datetime.now(UTC):%H%M%S%f}"
    empty, etag = store.get("westeurope", model)
    assert etag is None and empty.live is None
    cell = s.cell()
    md = s.image_metadata("canary", description="x" * 500).model_copy(update={"name": model})
    release = build_plan(s.image_request(cell, md), cell, None).release
    live = release.model_copy(update={"since": datetime.now(UTC)})
    history = tuple(live.model_copy(update={"deployment_id": f"dep-{i}"}) for i in range(10))
    state = DeploymentState(region="westeurope", model=model, live=live, history=history)
    first = store.put(state, None)
    with pytest.raises(StateConflict):
        store.put(state, None)  # someone created it first
    read, etag = store.get("westeurope", model)
    assert read == state and etag == first
    second = store.put(read.model_copy(update={"history": ()}), etag)
    with pytest.raises(StateConflict):
        store.put(read, first)  # stale
    assert store.get("westeurope", model)[1] == second
    assert model in {st.model for st in store.list_region("westeurope")}
    assert live_summary(store)("westeurope", model) == live.summary()
    assert live_summary(store)("westeurope", "never-deployed") is None


def test_a_row_edited_behind_the_apps_back_is_left_out_of_the_listing(
    store: TableDeploymentStateStore,
) -> None:
    model = f"m-{datetime.now(UTC):%H%M%S%f}"
    store.put(DeploymentState(region="westeurope", model=model), None)
    client = store._client()
    client.upsert_entity({"PartitionKey": "westeurope", "RowKey": "edited", "State": b"junk"})
    client.upsert_entity({"PartitionKey": "westeurope", "RowKey": "no-state", "Other": "x"})

    try:
        listed = {st.model for st in store.list_region("westeurope")}
    finally:
        for row in ("edited", "no-state"):
            client.delete_entity("westeurope", row)

    assert model in listed and "edited" not in listed and "no-state" not in listed
