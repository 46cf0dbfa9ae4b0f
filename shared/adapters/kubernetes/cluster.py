"""``Cluster`` over the kubernetes client: server-side apply, delete, read and watch.

Thin on purpose: the driver logic (``shared.services.deploy.drivers.kubernetes``) is tested
against a fake of the same port; this adapter only translates calls and errors. ``kubernetes`` is
imported here, on the kubernetes path only.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from shared.adapters.telemetry.spans import traced_call
from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.k8s_status import Condition, DeploymentStatus
from shared.domain.deploy.manifests.objects import FIELD_MANAGER, Manifest, ObjectRef
from shared.domain.errors import TransientError

REQUEST_TIMEOUT = 30
WATCH_WINDOW = 50  # server-side timeoutSeconds of one watch request
WATCH_READ_TIMEOUT = 65.0  # no byte for this long: a half-open connection; start again


class _Restart(Exception):
    """The watch stream ended before the deadline (closed early, expired, timed out)."""


class KubernetesCluster:
    def __init__(
        self,
        api_client: Any,
        *,
        cluster: str = "cluster",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        watch_window: int = WATCH_WINDOW,
        watch_read_timeout: float = WATCH_READ_TIMEOUT,
    ) -> None:
        self._api = api_client
        self._cluster = cluster
        self._dynamic: Any = None
        self._clock, self._sleep = clock, sleep
        self._window, self._read_timeout = watch_window, watch_read_timeout

    def _resources(self) -> Any:
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            self._dynamic = self._translate(lambda: DynamicClient(self._api), "discovery")
        return self._dynamic

    @traced_call("kubernetes.apply")
    def apply(self, manifest: Manifest) -> None:
        ref = ObjectRef.of(manifest)

        def call() -> None:
            client = self._resources()
            resource = client.resources.get(api_version=ref.api_version, kind=ref.kind)
            client.server_side_apply(
                resource,
                body=manifest,
                name=ref.name,
                namespace=ref.namespace,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                _request_timeout=REQUEST_TIMEOUT,
            )

        self._translate(call, f"apply {ref.kind}/{ref.name}")

    @traced_call("kubernetes.delete")
    def delete(self, ref: ObjectRef) -> bool:
        from kubernetes.dynamic.exceptions import NotFoundError

        def call() -> bool:
            client = self._resources()
            resource = client.resources.get(api_version=ref.api_version, kind=ref.kind)
            try:
                client.delete(
                    resource,
                    name=ref.name,
                    namespace=ref.namespace,
                    body={"propagationPolicy": "Foreground"},
                    _request_timeout=REQUEST_TIMEOUT,
                )
            except NotFoundError:
                return False
            return True

        result: bool = self._translate(call, f"delete {ref.kind}/{ref.name}")
        return result

    @traced_call("kubernetes.deployment_status")
    def deployment_status(self, namespace: str, name: str) -> DeploymentStatus | None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        apps = client.AppsV1Api(self._api)

        def call() -> DeploymentStatus | None:
            try:
                found = apps.read_namespaced_deployment(
                    name, namespace, _request_timeout=REQUEST_TIMEOUT
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return to_status(found)

        result: DeploymentStatus | None = self._translate(call, f"read Deployment/{name}")
        return result

    def watch_deployment(
        self, namespace: str, name: str, timeout_seconds: float
    ) -> Iterator[DeploymentStatus]:
        """The status, then each change, until ``timeout_seconds`` have passed. A stream the
        API server or a load balancer closes early, an expired resource version (410) or a
        silent connection (read timeout) starts a new watch after a fresh read."""
        from kubernetes import client, watch

        apps = client.AppsV1Api(self._api)
        deadline = self._clock() + timeout_seconds
        while True:
            started = self._clock()
            current = self.deployment_status(namespace, name)  # nothing missed between watches
            if current is not None:
                yield current
            remaining = deadline - self._clock()
            if remaining < 1:
                return
            stream = watch.Watch().stream(
                apps.list_namespaced_deployment,
                namespace,
                field_selector=f"metadata.name={name}",
                timeout_seconds=max(1, int(min(remaining, self._window))),
                _request_timeout=(REQUEST_TIMEOUT, self._read_timeout),
            )
            iterator = iter(stream)
            try:
                while True:
                    event = self._translate(
                        functools.partial(self._next_event, iterator), f"watch Deployment/{name}"
                    )
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        yield to_status(event["object"])
            except _Restart:
                pass
            if self._clock() - started < 1:  # a stream that closes at once: do not spin
                self._sleep(1)

    @staticmethod
    def _next_event(iterator: Iterator[Any]) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import ProtocolError, ReadTimeoutError

        try:
            event = next(iterator, None)
        except (ReadTimeoutError, ProtocolError) as exc:
            raise _Restart() from exc
        except ApiException as exc:
            if exc.status == 410:
                raise _Restart() from exc
            raise
        if event is None:
            raise _Restart()
        return event

    def _translate(self, action: Any, what: str) -> Any:
        """Unreachable or overloaded API server: transient. A refusal: the plan is wrong."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import (
            DynamicApiError,
            ResourceNotFoundError,
            ResourceNotUniqueError,
        )
        from urllib3.exceptions import HTTPError

        try:
            return action()
        except _Restart:
            raise
        except (ResourceNotFoundError, ResourceNotUniqueError) as exc:
            # Discovery does not know the kind (a CRD not installed, a removed API version).
            # A plain Exception in kubernetes.dynamic; the port promises PlanError.
            raise PlanError(
                DeployCode.INVALID_MANIFEST,
                f"{self._cluster}: {what}: the API server does not serve this kind: {exc}",
            ) from exc
        except (HTTPError, OSError) as exc:
            raise TransientError(f"{self._cluster}: {what}: API server unreachable: {exc}") from exc
        except (ApiException, DynamicApiError) as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if status in (0, 408, 409, 429) or status >= 500:
                # 409: someone changed the object between read and write; a retry re-applies.
                raise TransientError(
                    f"{self._cluster}: {what}: API server answered {status}"
                ) from exc
            reason = getattr(exc, "reason", "") or ""
            hint = ""
            if status == 404:
                hint = " (is the namespace there? Terraform creates each model team's namespace)"
            if status == 403:
                hint = " (Clearance's identity lacks the RBAC role for it)"
            raise PlanError(
                DeployCode.INVALID_MANIFEST,
                f"{self._cluster}: {what} was refused ({status} {reason}){hint}: "
                f"{str(getattr(exc, 'body', '') or '')[:300]}",
            ) from exc


def to_status(deployment: Any) -> DeploymentStatus:
    """A ``V1Deployment`` (as read, or as the typed watch yields it) as a ``DeploymentStatus``."""
    spec, status, meta = deployment.spec, deployment.status, deployment.metadata
    conditions = {
        c.type: Condition(status=c.status, reason=c.reason or "", message=c.message or "")
        for c in (status.conditions or [] if status else [])
    }
    return DeploymentStatus(
        generation=int(meta.generation or 0),
        observed_generation=int((status.observed_generation if status else 0) or 0),
        replicas=int(spec.replicas if spec.replicas is not None else 1),
        updated_replicas=int((status.updated_replicas if status else 0) or 0),
        ready_replicas=int((status.ready_replicas if status else 0) or 0),
        available_replicas=int((status.available_replicas if status else 0) or 0),
        total_replicas=int((status.replicas if status else 0) or 0),
        conditions=conditions,
    )
