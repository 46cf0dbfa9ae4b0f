"""What a production cluster needs from every phase: a default-deny NetworkPolicy, replicas
spread across zones, Ingress TLS from the catalog, disruption budgets that never block a drain."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.catalog import IngressTls, RegionEntry
from shared.domain.deploy.manifests.phases import K8sPhase
from shared.domain.deploy.manifests.validation import validate_manifests
from tests.support import deploy_samples as s
from tests.support.manifest_cases import phases, plan_for

STRATEGIES = sorted(s.ROLLOUTS)


def with_tls(cell: RegionEntry, tls: IngressTls) -> RegionEntry:
    assert cell.aks is not None
    return cell.model_copy(update={"aks": cell.aks.model_copy(update={"ingress_tls": tls})})


def of_kind(phase: K8sPhase, kind: str) -> list[dict[str, Any]]:
    return [m for m in phase.desired if m["kind"] == kind]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_running_phase_fences_the_model(cell: RegionEntry, strategy: str) -> None:
    for phase in phases(plan_for(cell, s.image_metadata(strategy, "1.0.0"))):
        if not phase.desired:
            continue
        (policy,) = of_kind(phase, "NetworkPolicy")
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"]  # selected pods: everything else denied
        assert spec["podSelector"] == {"matchLabels": {"clearance.ai/model": "fraud-detector"}}
        (rule,) = spec["ingress"]
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        assert rule["from"] == [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "app-routing-system"}
                }
            }
        ]


def test_removing_the_model_removes_its_policy(cell: RegionEntry) -> None:
    plan = plan_for(cell, s.image_metadata("rolling", "1.0.0"))
    plan = plan.model_copy(update={"replaces": None})
    (removal,) = [p for p in phases(plan) if p.step == "remove"]
    assert "NetworkPolicy" in {ref.kind for ref in removal.delete}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_replicas_spread_across_zones_then_nodes(cell: RegionEntry, strategy: str) -> None:
    for phase in phases(plan_for(cell, s.image_metadata(strategy, "1.0.0"))):
        for deployment in of_kind(phase, "Deployment"):
            spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
            keys = [c["topologyKey"] for c in spread]
            assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
            workload = deployment["metadata"]["name"]
            assert all(
                c["labelSelector"] == {"matchLabels": {"clearance.ai/workload": workload}}
                for c in spread
            )


@pytest.mark.parametrize(
    ("tls", "annotation", "secret"),
    [
        (IngressTls(cluster_issuer="letsencrypt"), "cert-manager.io/cluster-issuer", "{}-tls"),
        (
            IngressTls(keyvault_certificate_uri="https://kv.vault.azure.net/certificates/models"),
            "kubernetes.azure.com/tls-cert-keyvault-uri",
            "keyvault-{}",
        ),
    ],
)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_ingress_tls_comes_from_the_catalog(
    cell: RegionEntry, strategy: str, tls: IngressTls, annotation: str, secret: str
) -> None:
    plan = plan_for(with_tls(cell, tls), s.image_metadata(strategy, "1.0.0"))
    for phase in phases(plan):
        validate_manifests(phase.desired, plan.kubernetes_version)
        for ingress in of_kind(phase, "Ingress"):
            notes = ingress["metadata"].get("annotations") or {}
            name = ingress["metadata"]["name"]
            if "nginx.ingress.kubernetes.io/canary" in notes:
                assert "tls" not in ingress["spec"]  # the main Ingress's host and certificate
                continue
            assert annotation in notes
            hosts = [r["host"] for r in ingress["spec"]["rules"]]
            assert ingress["spec"]["tls"] == [{"hosts": hosts, "secretName": secret.format(name)}]


def test_without_a_tls_setting_no_ingress_claims_tls(cell: RegionEntry) -> None:
    for phase in phases(plan_for(cell, s.image_metadata("canary", "1.0.0"))):
        assert all("tls" not in i["spec"] for i in of_kind(phase, "Ingress"))


@pytest.mark.parametrize(
    "fields",
    [{}, {"cluster_issuer": "a", "keyvault_certificate_uri": "https://k/certificates/c"}],
)
def test_the_tls_setting_names_exactly_one_source(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        IngressTls(**fields)


def test_a_drain_is_never_blocked_and_the_canary_keeps_a_pod(cell: RegionEntry) -> None:
    plan = plan_for(cell, s.image_metadata("canary", "1.0.0"))
    canary = next(p for p in phases(plan) if p.step.startswith("canary-"))
    (hpa,) = [h for h in of_kind(canary, "HorizontalPodAutoscaler") if "canary" in str(h)]
    assert hpa["spec"]["minReplicas"] == 2  # one pod always serves while a node drains
    for budget in of_kind(canary, "PodDisruptionBudget"):
        assert budget["spec"]["maxUnavailable"] == 1  # allowed disruptions >= 1: never blocks
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        assert "minAvailable" not in budget["spec"]
