"""The kubernetes driver and adapter on the wire: the real kubernetes client (DynamicClient,
server-side apply, watch) against an HTTP fake of the API server on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.adapters.kubernetes.cluster import KubernetesCluster
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode, PlanError, RolloutFailed
from shared.domain.deploy.plan import DeploymentPlan, build_plan
from shared.domain.errors import TransientError
from shared.services.deploy.drivers.kubernetes import KubernetesDeployer
from tests.support import deploy_samples as s
from tests.support.kube_api import FakeApiServer, WatchScript, api_server

NS = "model-fraud-detector"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"


@pytest.fixture
def fake(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # DynamicClient's discovery cache file
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with api_server() as server:
        yield server


def cluster(fake: FakeApiServer, **kwargs: Any) -> KubernetesCluster:
    from kubernetes import client

    config = client.Configuration()
    config.host = fake.url
    kwargs.setdefault("sleep", lambda seconds: None)
    return KubernetesCluster(client.ApiClient(config), cluster="aks-wire", **kwargs)


def plan(cell: RegionEntry) -> DeploymentPlan:
    return build_plan(s.image_request(cell, s.image_metadata("rolling", "2")), cell, None)


def deployer(fake: FakeApiServer, timeout: float = 20.0, **kwargs: Any) -> KubernetesDeployer:
    wire = cluster(fake, **kwargs)
    return KubernetesDeployer(lambda p: wire, rollout_timeout=timeout)


def test_a_step_applies_server_side_and_waits_through_early_closed_watches(
    fake: FakeApiServer, cell: RegionEntry
) -> None:
    """The finding: a watch stream closed early ended the wait ("did not roll out") and the
    driver rolled back. Now the watch starts again until the deadline."""
    fake.ready_after_watches = 3  # two watch streams close before the rollout is done
    report = deployer(fake).run_step(plan(cell), 0)
    assert report.where["namespace"] == NS
    patches = fake.requests("PATCH")
    assert patches and all(p.content_type == "application/apply-patch+yaml" for p in patches)
    assert all(p.query == {"fieldManager": ["clearance"], "force": ["true"]} for p in patches)
    applied = {(p.manifest()["kind"], p.path) for p in patches}
    assert ("Deployment", f"{DEPLOYMENTS}/fraud-detector") in applied
    assert ("Service", f"/api/v1/namespaces/{NS}/services/fraud-detector") in applied
    assert "Namespace" not in {kind for kind, _ in applied}  # pre-created; 403 otherwise
    body = next(p.manifest() for p in patches if p.manifest()["kind"] == "Deployment")
    assert body["metadata"]["namespace"] == NS and body["apiVersion"] == "apps/v1"
    watches = fake.requests("GET", "/deployments")
    watches = [w for w in watches if w.query.get("watch")]
    assert len(watches) == 3
    assert all(w.query["fieldSelector"] == ["metadata.name=fraud-detector"] for w in watches)
    assert all(1 <= int(w.query["timeoutSeconds"][0]) <= 50 for w in watches)
    assert fake.unexpected == []


def test_an_expired_watch_410_starts_again(fake: FakeApiServer, cell: RegionEntry) -> None:
    fake.ready_after_watches = 2
    fake.watches = [WatchScript(end="gone")]
    deployer(fake).run_step(plan(cell), 0)


def test_a_silent_watch_times_out_on_read_and_starts_again(
    fake: FakeApiServer, cell: RegionEntry
) -> None:
    """A half-open connection must not hold the function until functionTimeout."""
    fake.ready_after_watches = 2
    fake.watches = [WatchScript(end="silent", silent_for=10)]
    started = time.monotonic()
    deployer(fake, watch_read_timeout=0.5).run_step(plan(cell), 0)
    assert time.monotonic() - started < 8


def test_a_rollout_that_never_finishes_times_out_at_the_deadline(
    fake: FakeApiServer, cell: RegionEntry
) -> None:
    fake.ready_after_watches = 10_000
    started = time.monotonic()
    with pytest.raises(RolloutFailed) as caught:
        deployer(fake, timeout=2.5, sleep=time.sleep).run_step(plan(cell), 0)
    assert caught.value.violation.code == DeployCode.TIMEOUT
    assert 2.0 <= time.monotonic() - started < 8


@pytest.mark.parametrize(
    ("status", "expected", "hint"),
    [
        (403, PlanError, "RBAC"),
        (404, PlanError, "namespace"),
        (422, PlanError, "refused"),
        (409, TransientError, "409"),
        (429, TransientError, "429"),
        (500, TransientError, "500"),
    ],
)
def test_api_server_answers_are_classified(
    fake: FakeApiServer, cell: RegionEntry, status: int, expected: type[Exception], hint: str
) -> None:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status,
            "reason": "Scripted", "message": "scripted"}  # fmt: skip
    fake.answer("PATCH", "/deployments/fraud-detector", *[(status, body)] * 5)
    with pytest.raises(expected, match=hint):
        deployer(fake).run_step(plan(cell), 0)


def test_an_unknown_kind_is_a_plan_error_not_a_plain_exception(fake: FakeApiServer) -> None:
    """``kubernetes.dynamic`` raises ``ResourceNotFoundError`` (a plain Exception) for a kind
    discovery does not list; the port promises PlanError or TransientError."""
    manifest = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                "metadata": {"name": "m", "namespace": NS}}  # fmt: skip
    with pytest.raises(PlanError, match="does not serve this kind"):
        cluster(fake).apply(manifest)


def test_delete_of_what_is_gone_is_false(fake: FakeApiServer) -> None:
    from shared.domain.deploy.manifests.objects import ObjectRef

    ref = ObjectRef(api_version="apps/v1", kind="Deployment", namespace=NS, name="gone")
    assert cluster(fake).delete(ref) is False
    (delete,) = fake.requests("DELETE")
    assert delete.path == f"{DEPLOYMENTS}/gone"
    assert b"Foreground" in delete.body


def test_an_unreachable_api_server_is_transient() -> None:
    from kubernetes import client

    config = client.Configuration()
    config.host = "http://127.0.0.1:9"  # discard port: refused
    wire = KubernetesCluster(client.ApiClient(config), cluster="aks-wire")
    with pytest.raises(TransientError, match="unreachable"):
        wire.deployment_status(NS, "fraud-detector")
