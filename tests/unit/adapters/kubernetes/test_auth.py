"""``aks_api_client`` on the wire: the server and CA from ARM's listClusterUserCredential, and
an Entra token on every request to the API server, fetched again for each request (the
credential renews it before it expires)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from shared.adapters.kubernetes.auth import AKS_SCOPE, ARM_SCOPE, aks_api_client
from shared.adapters.kubernetes.cluster import KubernetesCluster
from shared.domain.catalog import AksTarget
from shared.domain.errors import ConfigurationError, TransientError
from tests.support.kube_api import FakeApiServer, api_server


class Tokens:
    def __init__(self) -> None:
        self.issued: list[tuple[str, str]] = []

    def get_token(self, scope: str) -> Any:
        token = f"{'arm' if scope == ARM_SCOPE else 'aks'}-{len(self.issued)}"
        self.issued.append((scope, token))
        return type("T", (), {"token": token})()


class Arm:
    def __init__(self, status: int = 200) -> None:
        self.status, self.calls = status, []  # type: list[dict[str, Any]]

    def post(self, url: str, headers: dict[str, str], timeout: float) -> Any:
        self.calls.append({"url": url, "headers": headers, "timeout": timeout})
        ca = base64.b64encode(b"CA").decode()
        cluster = {"server": "https://aks.invalid:443", "certificate-authority-data": ca}
        kubeconfig = {"clusters": [{"cluster": cluster}]}
        body = {
            "kubeconfigs": [
                {"value": base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()}
            ]
        }
        status = self.status
        return type("R", (), {"status_code": status, "json": lambda self: body})()


@pytest.fixture
def fake(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with api_server() as server:
        yield server


def target(url: str) -> AksTarget:
    return AksTarget(cluster_name="aks-westeurope", resource_group="rg", subscription_id="sub",
                     api_server_url=url)  # fmt: skip


def test_every_request_carries_a_fresh_entra_token(
    fake: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    arm, tokens = Arm(), Tokens()
    monkeypatch.setattr(requests, "post", arm.post)
    api = aks_api_client(target(fake.url), tokens)
    wire = KubernetesCluster(api, cluster="aks-westeurope")
    wire.deployment_status("model-x", "x")
    wire.deployment_status("model-x", "x")
    (call,) = arm.calls
    assert "/managedClusters/aks-westeurope/listClusterUserCredential" in call["url"]
    assert call["headers"]["Authorization"] == "Bearer arm-0" and call["timeout"]
    sent = [r.headers.get("authorization") for r in fake.seen]
    assert len(sent) == 2 and all(s and s.startswith("Bearer aks-") for s in sent)
    aks_tokens = [t for scope, t in tokens.issued if scope == AKS_SCOPE]
    assert set(sent) <= {f"Bearer {t}" for t in aks_tokens} and len(set(sent)) == 2


def test_arm_outages_are_transient_and_refusals_a_configuration_error(
    fake: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    monkeypatch.setattr(requests, "post", Arm(503).post)
    with pytest.raises(TransientError):
        aks_api_client(target(fake.url), Tokens())
    monkeypatch.setattr(requests, "post", Arm(403).post)
    with pytest.raises(ConfigurationError, match="403"):
        aks_api_client(target(fake.url), Tokens())
