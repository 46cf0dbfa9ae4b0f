"""``AmlEndpoints`` over ``azure.ai.ml.MLClient``: the region workspace's online endpoints.

Thin on purpose: each call builds the entity through the SDK schema (``aml_entities``),
calls the SDK and translates its errors. ``azure.ai.ml`` is imported only here and there.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.aml.entities import build_deployment, build_endpoint
from shared.domain.deploy.aml import Spec
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.errors import TransientError

PROVISION_TIMEOUT = 540.0


def ml_client(credential: Any, subscription_id: str, resource_group: str, workspace: str) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(credential, subscription_id, resource_group, workspace)


class AmlOnlineEndpoints:
    def __init__(self, client: Any, *, timeout: float = PROVISION_TIMEOUT) -> None:
        self._client = client
        self._timeout = timeout

    def get_traffic(self, endpoint: str) -> dict[str, int] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self._call(lambda: self._client.online_endpoints.get(endpoint))
        except ResourceNotFoundError:
            return None
        return dict(found.traffic or {})

    def upsert_endpoint(self, spec: Spec) -> None:
        entity = build_endpoint(spec)
        self._call(
            lambda: self._client.online_endpoints.begin_create_or_update(entity).result(
                timeout=self._timeout
            ),
            provisioning=f"endpoint {spec['name']}",
        )

    def upsert_deployment(self, spec: Spec) -> None:
        entity = build_deployment(spec)
        self._call(
            lambda: self._client.online_deployments.begin_create_or_update(entity).result(
                timeout=self._timeout
            ),
            provisioning=f"deployment {spec['name']}",
        )

    def deployment_state(self, endpoint: str, name: str) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self._call(
                lambda: self._client.online_deployments.get(name=name, endpoint_name=endpoint)
            )
        except ResourceNotFoundError:
            return None
        return str(found.provisioning_state or "Unknown")

    def delete_deployment(self, endpoint: str, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._call(
                lambda: self._client.online_deployments.begin_delete(
                    name=name, endpoint_name=endpoint
                ).result(timeout=self._timeout)
            )
        except ResourceNotFoundError:
            return

    @staticmethod
    def _call(action: Any, provisioning: str | None = None) -> Any:
        from azure.core.exceptions import (
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            return action()
        except ResourceNotFoundError:
            raise
        except (ServiceRequestError, ServiceResponseError, TimeoutError) as exc:
            raise TransientError(f"Azure ML unreachable: {exc}") from exc
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                raise TransientError(f"Azure ML answered {status}: {exc.message}") from exc
            if provisioning is not None and status in (0, 200, 201, 202):
                raise RolloutFailed(
                    DeployCode.PROVISIONING_FAILED, f"{provisioning} failed: {exc.message}"
                ) from exc
            raise PlanError(
                DeployCode.INVALID_MANIFEST, f"Azure ML refused the request: {exc.message}"
            ) from exc
