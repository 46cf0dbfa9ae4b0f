"""Fixtures of the unit tests: a two-region catalog, labels that satisfy the contract, and the
westeurope cell of the local catalog for the deployment tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.domain.catalog import RegionCatalog, RegionEntry
from tests.support import deploy_samples as deploy_samples


def _region(name: str, zone: str, *, aml: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "residency_zone": zone,
        "function_app_url": f"https://clearance-{name}.azurewebsites.net",
        "registry": {"login_server": f"clearance{name}.azurecr.io"},
        "storage": {"account_name": f"clr{name}"[:24]},
        "service_bus": {"namespace": f"clearance-{name}.servicebus.windows.net"},
        "approval": {"default": {"approvers": ["ann@example.com", "bob@example.com"]}},
        "gitops": {"repository_url": "https://github.com/contoso/clearance-gitops"},
    }
    if aml:
        entry["aml"] = {
            "subscription_id": "00000000-0000-0000-0000-000000000001",
            "resource_group": f"rg-clearance-{name}",
            "workspace": f"mlw-{name}",
            "compute": "aks-inference",
        }
    return entry


def _build_catalog(*, aml_in_swedencentral: bool = True) -> RegionCatalog:
    return RegionCatalog.model_validate(
        {
            "residency_zones": {
                "EU": {"regions": ["westeurope", "swedencentral"]},
                "SE": {"regions": ["swedencentral"]},
            },
            "regions": [
                _region("westeurope", "EU", aml=True),
                _region("swedencentral", "SE", aml=aml_in_swedencentral),
            ],
        }
    )


@pytest.fixture
def catalog() -> RegionCatalog:
    return _build_catalog()


@pytest.fixture
def catalog_without_aml_in_sweden() -> RegionCatalog:
    return _build_catalog(aml_in_swedencentral=False)


@pytest.fixture
def image_labels() -> dict[str, str]:
    """A canary image for westeurope and swedencentral, plus a label from its base image."""
    return {
        "ai.clearance.model.name": "fraud-detector",
        "org.opencontainers.image.version": "1.4.2",
        "ai.clearance.owner": "ada@example.com",
        "ai.clearance.regions": "westeurope,swedencentral",
        "ai.clearance.residency": "EU",
        "ai.clearance.risk-tier": "high",
        "ai.clearance.rollout.strategy": "canary",
        "ai.clearance.rollout.canary.steps": "10,50,100",
        "ai.clearance.rollout.canary.bake-minutes": "15",
        "ai.clearance.serving.port": "8080",
        "ai.clearance.serving.health-path": "/healthz",
        "ai.clearance.resources.cpu": "500m",
        "ai.clearance.resources.memory": "1Gi",
        "maintainer": "base-image@example.org",
    }


@pytest.fixture
def aml_tags() -> dict[str, str]:
    """Tags of an AML model; its name and version come from the registration."""
    return {
        "ai.clearance.owner": "ada@example.com",
        "ai.clearance.regions": "westeurope",
        "ai.clearance.residency": "EU",
        "ai.clearance.risk-tier": "medium",
        "ai.clearance.rollout.strategy": "blue-green",
        "ai.clearance.serving.instance-type": "gpu-small",
        "ai.clearance.serving.instance-count": "2",
    }


@pytest.fixture
def cell(tmp_path: Path) -> RegionEntry:
    return deploy_samples.cell(tmp_path, deployer="kubernetes")


@pytest.fixture
def gitops_cell(tmp_path: Path) -> RegionEntry:
    return deploy_samples.cell(tmp_path, deployer="gitops")
