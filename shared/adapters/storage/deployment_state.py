"""``DeploymentStateStore`` over Azure Table Storage, in the cell's own account.

One row per (region, model): PartitionKey region, RowKey model, the state as compressed JSON
(it holds a short history of revisions and the running plan). Writes are conditional on the
row's ETag, so two deliveries never both own a model's rollout.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from shared.adapters.storage.resources import LazyTable
from shared.domain.deploy.revision import Revision
from shared.domain.deploy.state import DeploymentState
from shared.domain.errors import TransientError
from shared.ports.deploy import StateConflict

log = logging.getLogger(__name__)
TABLE = "deployments"


class TableDeploymentStateStore:
    def __init__(self, table_service: Any) -> None:
        self._table = LazyTable(table_service, TABLE)

    def _client(self) -> Any:
        return self._call(self._table)

    def get(self, region: str, model: str) -> tuple[DeploymentState, str | None]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self._call(lambda: self._client().get_entity(region, model))
        except ResourceNotFoundError:
            return DeploymentState(region=region, model=model), None
        return _decode(entity), entity.metadata["etag"]

    def put(self, state: DeploymentState, etag: str | None) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        entity = _encode(state)
        try:
            if etag is None:
                meta = self._call(lambda: self._client().create_entity(entity))
            else:
                meta = self._call(
                    lambda: self._client().update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise StateConflict(f"{state.region}/{state.model} changed concurrently") from exc
        return str(meta["etag"])

    def list_region(self, region: str) -> list[DeploymentState]:
        """Every model's state; a row that does not decode (edited behind the app's back) is
        logged and left out, so one bad row never stops the sweeps that list the region."""
        rows = self._call(
            lambda: list(
                self._client().query_entities("PartitionKey eq @pk", parameters={"pk": region})
            )
        )
        states = []
        for row in rows:
            try:
                states.append(_decode(row))
            except (KeyError, TypeError, ValueError, zlib.error) as exc:
                log.error(
                    "deployment state %s/%s does not decode: %s", region, row.get("RowKey"), exc
                )
        return states

    @staticmethod
    def _call(action: Any) -> Any:
        from azure.core.exceptions import (
            HttpResponseError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            return action()
        except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
            raise
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise ResourceModifiedError(message=str(exc)) from exc
            raise TransientError(f"deployment state store: {exc}") from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise TransientError(f"deployment state store unreachable: {exc}") from exc


def _encode(state: DeploymentState) -> dict[str, Any]:
    live = state.live
    return {
        "PartitionKey": state.region,
        "RowKey": state.model,
        "State": zlib.compress(state.model_dump_json().encode("utf-8"), 9),
        # plain columns, for people browsing the table
        "LiveDigest": live.identity if live else "",
        "LiveVersion": live.metadata.version if live else "",
        "LiveSince": live.since.isoformat() if live and live.since else "",
        "RolloutId": state.rollout.deployment_id if state.rollout else "",
    }


def _decode(entity: Any) -> DeploymentState:
    raw = entity["State"]
    data = raw.value if hasattr(raw, "value") else raw
    return DeploymentState.model_validate_json(zlib.decompress(bytes(data)))


def live_summary(store: Any) -> Any:
    """``(region, model) -> "1.4.2 (sha256:...)"`` or None: what approvers see as live now."""

    def live_now(region: str, model: str) -> str | None:
        state, _ = store.get(region, model)
        live: Revision | None = state.live
        return live.summary() if live else None

    return live_now
