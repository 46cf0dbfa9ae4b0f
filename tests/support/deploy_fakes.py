"""Fakes of the deployment ports; tests assert on their state (what runs, what is stored)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.deploy.aml import Spec
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.deploy.k8s_status import Condition, DeploymentStatus
from shared.domain.deploy.manifests.objects import Manifest, ObjectRef
from shared.domain.deploy.state import DeploymentState
from shared.domain.errors import TransientError
from shared.ports.deploy import StateConflict


@dataclass
class FakeClock:
    now: datetime = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeStateStore:
    """ETag semantics of the table store: a write with a stale ETag is a conflict."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[str, str]] = {}
        self.down = False
        self._n = 0
        self._lock = threading.Lock()

    def get(self, region: str, model: str) -> tuple[DeploymentState, str | None]:
        if self.down:
            raise TransientError("state store down")
        row = self.rows.get((region, model))
        if row is None:
            return DeploymentState(region=region, model=model), None
        return DeploymentState.model_validate_json(row[0]), row[1]

    def put(self, state: DeploymentState, etag: str | None) -> str:
        with self._lock:
            if self.down:
                raise TransientError("state store down")
            current = self.rows.get((state.region, state.model))
            if (current[1] if current else None) != etag:
                raise StateConflict("changed")
            self._n += 1
            new = f"etag-{self._n}"
            self.rows[(state.region, state.model)] = (state.model_dump_json(), new)
            return new

    def list_region(self, region: str) -> list[DeploymentState]:
        return [self.get(r, m)[0] for (r, m) in self.rows if r == region]

    def state(self, region: str, model: str) -> DeploymentState:
        return self.get(region, model)[0]


HEALTHY = "healthy"  # rolls out at once and stays Available
DEADLINE = "deadline"  # the controller reports ProgressDeadlineExceeded
STUCK = "stuck"  # never progresses (the driver's own timeout fires)
DEGRADES = "degrades"  # rolls out, then is no longer Available when the gate looks


class FakeCluster:
    """An API server in memory. How a Deployment behaves is chosen per image digest."""

    def __init__(self) -> None:
        self.objects: dict[ObjectRef, Manifest] = {}
        self.generations: dict[ObjectRef, int] = {}
        self.behaviour: dict[str, str] = {}
        self.applied: list[ObjectRef] = []
        self.deleted: list[ObjectRef] = []
        self.unreachable = False
        self.forbidden_kinds: set[str] = set()

    # -- the port -----------------------------------------------------------------------------
    def apply(self, manifest: Manifest) -> None:
        self._reach()
        ref = ObjectRef.of(manifest)
        if ref.kind in self.forbidden_kinds:
            raise PlanError(DeployCode.INVALID_MANIFEST, f"{ref.kind} forbidden")
        before = self.objects.get(ref)
        if before is None or before.get("spec") != manifest.get("spec"):
            self.generations[ref] = self.generations.get(ref, 0) + 1
        self.objects[ref] = copy.deepcopy(manifest)
        self.applied.append(ref)

    def delete(self, ref: ObjectRef) -> bool:
        self._reach()
        existed = self.objects.pop(ref, None) is not None
        if existed:
            self.deleted.append(ref)
        return existed

    def deployment_status(self, namespace: str, name: str) -> DeploymentStatus | None:
        self._reach()
        ref = self._deployment_ref(namespace, name)
        if ref not in self.objects:
            return None
        return self._status(ref, at_gate=True)

    def watch_deployment(
        self, namespace: str, name: str, timeout_seconds: float
    ) -> Iterator[DeploymentStatus]:
        self._reach()
        ref = self._deployment_ref(namespace, name)
        if ref in self.objects:
            yield self._status(ref, at_gate=False)

    # -- helpers for tests --------------------------------------------------------------------
    def _reach(self) -> None:
        if self.unreachable:
            raise TransientError("API server unreachable")

    @staticmethod
    def _deployment_ref(namespace: str, name: str) -> ObjectRef:
        return ObjectRef(api_version="apps/v1", kind="Deployment", namespace=namespace, name=name)

    def _status(self, ref: ObjectRef, *, at_gate: bool) -> DeploymentStatus:
        image = self.image(ref.namespace or "", ref.name) or ""
        mode = self.behaviour.get(image.rpartition("@")[2], HEALTHY)
        gen = self.generations[ref]
        ok = Condition("True", "NewReplicaSetAvailable")
        if mode == DEADLINE:
            return DeploymentStatus(
                gen, gen, 2, 1, 0, 0, 2,
                {"Progressing": Condition("False", "ProgressDeadlineExceeded", "too slow"),
                 "Available": Condition("False", "MinimumReplicasUnavailable")},
            )  # fmt: skip
        if mode == STUCK:
            return DeploymentStatus(gen, gen, 2, 0, 0, 0, 2, {"Progressing": ok})
        if mode == DEGRADES and at_gate:
            lost = Condition("False", "MinimumReplicasUnavailable", "pods crash-looping")
            return DeploymentStatus(gen, gen, 2, 2, 0, 0, 2, {"Available": lost})
        return DeploymentStatus(gen, gen, 2, 2, 2, 2, 2, {"Available": Condition("True"),
                                                          "Progressing": ok})  # fmt: skip

    def get(self, kind: str, namespace: str, name: str) -> Manifest | None:
        for ref, manifest in self.objects.items():
            if (ref.kind, ref.namespace, ref.name) == (kind, namespace, name):
                return manifest
        return None

    def image(self, namespace: str, deployment: str) -> str | None:
        found = self.get("Deployment", namespace, deployment)
        if found is None:
            return None
        image: str = found["spec"]["template"]["spec"]["containers"][0]["image"]
        return image

    def selector(self, namespace: str, service: str) -> dict[str, str] | None:
        found = self.get("Service", namespace, service)
        return None if found is None else dict(found["spec"]["selector"])

    def names(self, kind: str) -> list[str]:
        return sorted(ref.name for ref in self.objects if ref.kind == kind)


@dataclass
class FakeAmlEndpoints:
    """Endpoints with traffic maps and deployments with provisioning states."""

    endpoints: dict[str, Spec] = field(default_factory=dict)
    deployments: dict[tuple[str, str], Spec] = field(default_factory=dict)
    states: dict[tuple[str, str], str] = field(default_factory=dict)
    failing_models: set[str] = field(default_factory=set)
    traffic_history: list[dict[str, int]] = field(default_factory=list)
    unreachable: bool = False

    def _reach(self) -> None:
        if self.unreachable:
            raise TransientError("Azure ML unreachable")

    def get_traffic(self, endpoint: str) -> dict[str, int] | None:
        self._reach()
        found = self.endpoints.get(endpoint)
        return None if found is None else dict(found["traffic"])

    def upsert_endpoint(self, spec: Spec) -> None:
        self._reach()
        for name, share in spec["traffic"].items():
            if share and (spec["name"], name) not in self.deployments:
                raise PlanError(DeployCode.INVALID_MANIFEST, f"no deployment {name}")
        self.endpoints[spec["name"]] = copy.deepcopy(spec)
        self.traffic_history.append(dict(spec["traffic"]))

    def upsert_deployment(self, spec: Spec) -> None:
        self._reach()
        key = (spec["endpoint_name"], spec["name"])
        self.deployments[key] = copy.deepcopy(spec)
        if spec["model"] in self.failing_models:
            self.states[key] = "Failed"
            raise RolloutFailed(DeployCode.PROVISIONING_FAILED, f"{spec['name']} failed")
        self.states[key] = "Succeeded"

    def deployment_state(self, endpoint: str, name: str) -> str | None:
        self._reach()
        return self.states.get((endpoint, name))

    def delete_deployment(self, endpoint: str, name: str) -> None:
        self._reach()
        self.deployments.pop((endpoint, name), None)
        self.states.pop((endpoint, name), None)

    def serving(self, endpoint: str) -> dict[str, str]:
        """deployment name -> model, for deployments that receive traffic."""
        traffic = self.endpoints[endpoint]["traffic"]
        return {n: self.deployments[(endpoint, n)]["model"] for n, s in traffic.items() if s}


def as_any(value: Any) -> Any:
    return value
