"""Valid sample labels of a model image: the local stack's walkthroughs, tests and benchmarks."""

from __future__ import annotations

from collections.abc import Mapping


def model_labels(
    name: str = "fraud-detector",
    version: str = "1.0.0",
    *,
    region: str = "westeurope",
    zone: str = "EU",
    owner: str = "owner@contoso.example",
    risk_tier: str = "low",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Labels that pass the metadata contract for an image targeting ``region`` only."""
    return {
        "ai.clearance.model.name": name,
        "org.opencontainers.image.version": version,
        "ai.clearance.owner": owner,
        "ai.clearance.regions": region,
        "ai.clearance.residency": zone,
        "ai.clearance.rollout.strategy": "rolling",
        "ai.clearance.serving.port": "8080",
        "ai.clearance.serving.health-path": "/healthz",
        "ai.clearance.resources.cpu": "250m",
        "ai.clearance.resources.memory": "256Mi",
        "ai.clearance.risk-tier": risk_tier,
        **(extra or {}),
    }
