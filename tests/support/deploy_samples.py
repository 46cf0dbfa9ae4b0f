"""Sample requests, catalogs and revisions for the deployment tests."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.domain.catalog import RegionCatalog, RegionEntry
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.model import ModelMetadata
from shared.settings import load_catalog

APPROVED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
ROLLOUTS: dict[str, dict[str, Any]] = {
    "rolling": {"strategy": "rolling", "max_surge": 1, "max_unavailable": 0},
    "blue-green": {"strategy": "blue-green", "keep_previous_minutes": 30},
    "canary": {"strategy": "canary", "steps": [10, 50, 100], "bake_minutes": 15},
    "shadow": {"strategy": "shadow", "mirror_percent": 20, "duration_minutes": 60},
}


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def catalog(
    tmp: Path | None = None, *, deployer: str = "gitops", namespace_mode: str = "model"
) -> RegionCatalog:
    """Two regions like the local stack's; ``tmp`` holds their GitOps repositories."""
    root = tmp or Path("/nonexistent")
    regions = []
    for n, (name, zone) in enumerate((("westeurope", "EU"), ("swedencentral", "SE")), start=1):
        regions.append(
            {
                "name": name,
                "residency_zone": zone,
                "function_app_url": f"http://127.0.0.1:707{n}",
                "registry": {"login_server": f"127.0.0.1:500{n}"},
                "storage": {"account_name": f"clr{name}"[:24]},
                "service_bus": {"namespace": f"local-{name}.servicebus.invalid"},
                "approval": {
                    "default": {
                        "approvers": [
                            "approver.one@contoso.example",
                            "approver.two@contoso.example",
                        ],
                        "min_approvals": 2,
                    }
                },
                "deployer": deployer,
                "gitops": {
                    "repository_url": str(root / name / "gitops.git"),
                    "branch": "main",
                    "path": f"clusters/{name}/models",
                },
                "aks": {
                    "cluster_name": f"aks-{name}",
                    "resource_group": f"rg-{name}",
                    "api_server_url": "https://aks.example.invalid:443",
                    "kubernetes_version": "1.35",
                    "namespace_mode": namespace_mode,
                },
                "aml": {
                    "subscription_id": "00000000-0000-0000-0000-000000000000",
                    "resource_group": f"clearance-local-{name}",
                    "workspace": f"mlw-{name}",
                    "compute": f"aks-{name}",
                },
            }
        )
    zones = {
        "EU": {"regions": ["westeurope", "swedencentral"]},
        "SE": {"regions": ["swedencentral"]},
    }
    doc = {"schema_version": 1, "residency_zones": zones, "regions": regions}
    return load_catalog(json.dumps(doc))


def cell(tmp: Path | None = None, region: str = "westeurope", **kwargs: str) -> RegionEntry:
    return catalog(tmp, **kwargs).region(region)


def image_metadata(
    strategy: str = "rolling", version: str = "1.0.0", **extra: Any
) -> ModelMetadata:
    doc: dict[str, Any] = {
        "name": "fraud-detector",
        "version": version,
        "owner": "owner@contoso.example",
        "regions": ["westeurope"],
        "residency": "EU",
        "risk_tier": "high",
        "team": "payments-ml",
        "cost_centre": "CC-4711",
        "rollout": ROLLOUTS[strategy],
        "serving": {
            "kind": "image",
            "port": 8080,
            "health_path": "/healthz",
            "resources": {"cpu": "500m", "memory": "1Gi", "memory_limit": "2Gi"},
        },
    }
    doc.update(extra)
    return ModelMetadata.model_validate(doc)


def aml_metadata(strategy: str = "canary", version: str = "3") -> ModelMetadata:
    return ModelMetadata.model_validate(
        {
            "name": "churn-model",
            "version": version,
            "owner": "owner@contoso.example",
            "regions": ["westeurope"],
            "residency": "EU",
            "risk_tier": "medium",
            "rollout": ROLLOUTS[strategy],
            "serving": {"kind": "aml_model", "instance_type": "cpu-small", "instance_count": 2},
        }
    )


def image_request(
    cell_entry: RegionEntry,
    metadata: ModelMetadata | None = None,
    *,
    digest: str | None = None,
    approval_id: str | None = None,
    **extra: Any,
) -> DeploymentRequest:
    md = metadata or image_metadata()
    digest = digest or digest_of(f"{md.name}:{md.version}")
    artifact = ArtifactRef(
        kind="image",
        registry=cell_entry.registry.login_server,
        repository=f"models/{md.name}",
        digest=digest,
        tag=md.version,
    )
    fields: dict[str, Any] = {
        "approved_by": ("approver.one@contoso.example", "approver.two@contoso.example"),
        "approved_at": APPROVED_AT,
        **extra,
    }
    return DeploymentRequest(
        approval_id=approval_id or f"apr-{hashlib.sha256(digest.encode()).hexdigest()[:32]}",
        region=cell_entry.name,
        artifact=artifact,
        metadata=md,
        **fields,
    )


def aml_request(
    cell_entry: RegionEntry, metadata: ModelMetadata | None = None
) -> DeploymentRequest:
    md = metadata or aml_metadata()
    assert cell_entry.aml is not None
    artifact = ArtifactRef(
        kind="aml_model", workspace=cell_entry.aml.workspace, model=md.name, version=md.version
    )
    return DeploymentRequest(
        approval_id=f"apr-aml-{md.name}-{md.version}",
        region=cell_entry.name,
        artifact=artifact,
        metadata=md,
        approved_by=("approver.one@contoso.example",),
        approved_at=APPROVED_AT,
    )
