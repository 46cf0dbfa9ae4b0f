"""``AmlEndpoints`` over ``azure.ai.ml.MLClient``: the region workspace's online endpoints.

Thin on purpose: each call builds the entity through the SDK schema (``aml_entities``),
calls the SDK and translates its errors. ``azure.ai.ml`` is imported only here and there.

Waits. ``LROPoller.result(timeout=...)`` does not raise when the timeout passes: it returns
while the operation is still running (or fails deserialising the operation-status body as the
resource). Every wait here therefore ``wait``s, then checks ``poller.done()``, and
all the waits of one step share one budget (``step_budget``: the Functions ``functionTimeout``
minus a margin). An operation still running when the budget is spent raises ``StepPending``:
the service runs the step again later, and the step then waits on the deployment already being
provisioned instead of starting it again. One ``AmlOnlineEndpoints`` serves one step; the
``MLClient`` behind it is shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.adapters.aml.entities import build_deployment, build_endpoint
from shared.domain.deploy.aml import Spec
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.errors import TransientError
from shared.ports.deploy import StepPending

STEP_BUDGET = 420.0  # seconds of waiting per step; host.json functionTimeout is 600
# Provisioning states of a deployment still being worked on (ARM and Azure ML spellings).
IN_PROGRESS = frozenset({"creating", "updating", "provisioning", "deleting", "accepted"})
STATE_POLL = 10.0


def ml_client(
    credential: Any, subscription_id: str, resource_group: str, workspace: str, **kwargs: Any
) -> Any:
    """``kwargs`` go to the azure-core pipeline (``transport=`` in the wire tests)."""
    from azure.ai.ml import MLClient

    return MLClient(credential, subscription_id, resource_group, workspace, **kwargs)


class AmlOnlineEndpoints:
    def __init__(
        self,
        client: Any,
        *,
        budget: float = STEP_BUDGET,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        state_poll: float = STATE_POLL,
    ) -> None:
        self._client = client
        self._clock, self._sleep, self._state_poll = clock, sleep, state_poll
        self._deadline = clock() + budget

    def get_traffic(self, endpoint: str) -> dict[str, int] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self._call(lambda: self._client.online_endpoints.get(endpoint), missing=True)
        except ResourceNotFoundError:
            return None
        return dict(found.traffic or {})

    def upsert_endpoint(self, spec: Spec) -> None:
        entity = build_endpoint(spec)
        what = f"endpoint {spec['name']}"
        self._call(
            lambda: self._wait(self._client.online_endpoints.begin_create_or_update(entity), what),
            provisioning=what,
        )

    def upsert_deployment(self, spec: Spec) -> None:
        entity = build_deployment(spec)
        what = f"deployment {spec['name']}"
        # A step run again after StepPending: wait on the provisioning already under way.
        self._settle(spec["endpoint_name"], spec["name"], what)
        self._call(
            lambda: self._wait(
                self._client.online_deployments.begin_create_or_update(entity), what
            ),
            provisioning=what,
        )

    def deployment_state(self, endpoint: str, name: str) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            found = self._call(
                lambda: self._client.online_deployments.get(name=name, endpoint_name=endpoint),
                missing=True,
            )
        except ResourceNotFoundError:
            return None
        state = found.provisioning_state or "Unknown"
        # The SDK returns an enum (str() is "DeploymentProvisioningState.SUCCEEDED").
        return str(getattr(state, "value", state))

    def delete_deployment(self, endpoint: str, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        what = f"deletion of deployment {name}"
        try:
            self._call(
                lambda: self._wait(
                    self._client.online_deployments.begin_delete(name=name, endpoint_name=endpoint),
                    what,
                ),
                missing=True,
            )
        except ResourceNotFoundError:
            return

    # -- waits --------------------------------------------------------------------------------
    def _remaining(self) -> float:
        return self._deadline - self._clock()

    def _wait(self, poller: Any, what: str) -> Any:
        """The poller's result if it finishes within the step's budget; ``StepPending`` if not.
        A failed operation raises the SDK's ``HttpResponseError`` (classified by ``_call``)."""
        remaining = self._remaining()
        if remaining > 0:
            # ``wait``, not ``result(timeout=...)``: on timeout ``result`` returns (or fails
            # to deserialise) the in-progress shape instead of raising.
            poller.wait(timeout=remaining)
        if not poller.done():
            raise StepPending(
                f"Azure ML: {what} is still running after this step's wait budget; "
                "the step continues later"
            )
        return poller.result()

    def _settle(self, endpoint: str, name: str, what: str) -> None:
        state = self.deployment_state(endpoint, name)
        while state is not None and state.lower() in IN_PROGRESS:
            if self._remaining() <= self._state_poll:
                raise StepPending(f"Azure ML: {what} is still {state}; the step continues later")
            self._sleep(self._state_poll)
            state = self.deployment_state(endpoint, name)

    # -- errors -------------------------------------------------------------------------------
    @staticmethod
    def _call(action: Any, provisioning: str | None = None, *, missing: bool = False) -> Any:
        """Translate what the SDK raises. ``missing``: a 404 is an answer the caller handles;
        elsewhere it means the workspace or endpoint is not there (a plan the target refuses)."""
        from azure.ai.ml.exceptions import MlException
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            return action()
        except ResourceNotFoundError as exc:
            if missing:
                raise
            raise PlanError(
                DeployCode.NO_TARGET, f"Azure ML has no such resource: {exc.message}"
            ) from exc
        except ClientAuthenticationError as exc:
            if exc.status_code in (401, 403):  # Azure ML refused the identity: no retry helps
                raise PlanError(
                    DeployCode.NO_TARGET, f"Azure ML refused Clearance's identity: {exc.message}"
                ) from exc
            # No token (identity endpoint down, credential unavailable): retried, then the
            # give-up path records it.
            raise TransientError(f"Azure ML: no credential: {exc.message}") from exc
        except (ServiceRequestError, ServiceResponseError, TimeoutError) as exc:
            raise TransientError(f"Azure ML unreachable: {exc}") from exc
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status in (408, 409, 429) or status >= 500:
                raise TransientError(f"Azure ML answered {status}: {exc.message}") from exc
            if provisioning is not None and status in (0, 200, 201, 202):
                raise RolloutFailed(
                    DeployCode.PROVISIONING_FAILED, f"{provisioning} failed: {exc.message}"
                ) from exc
            raise PlanError(
                DeployCode.INVALID_MANIFEST, f"Azure ML refused the request: {exc.message}"
            ) from exc
        except MlException as exc:
            # azure-ai-ml re-raises its own validation (missing model, bad reference) this way.
            raise PlanError(
                DeployCode.INVALID_MANIFEST, f"Azure ML refused the request: {exc}"
            ) from exc
