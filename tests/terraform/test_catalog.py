"""The region_catalog output has the exact shape of shared/domain/catalog.py:RegionCatalog."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.domain.catalog import (
    AksTarget,
    AmlTarget,
    RegionCatalog,
    RegionEntry,
    RegistryTarget,
    ResidencyZone,
)
from shared.settings import ConfigurationError, load_catalog
from tests.terraform.catalog_mirror import names, render_catalog
from tests.terraform.checks import model_mismatches
from tests.terraform.environments import ENVIRONMENT_NAMES, SUBSCRIPTION, tfvars
from tests.terraform.hcl import MODULES, Module, object_literals, unwrap

CATALOG = MODULES / "catalog"


@pytest.fixture(scope="module")
def catalog() -> Module:
    return Module.load(CATALOG)


def test_entry_literal_has_exactly_the_region_entry_fields(catalog: Module) -> None:
    (entry,) = object_literals(catalog.locals["entries"])
    assert model_mismatches(entry, RegionEntry) == []
    assert set(entry) == set(RegionEntry.model_fields)


@pytest.mark.parametrize(
    ("local", "model"),
    [("registry", RegistryTarget), ("aks", AksTarget), ("aml", AmlTarget)],
)
def test_both_branches_of_targets_match_their_model(
    catalog: Module, local: str, model: type
) -> None:
    branches = object_literals(catalog.locals[local])
    assert len(branches) == 2  # existing resource / created resource
    for branch in branches:
        assert model_mismatches(branch, model) == []


def test_zones_and_document_match_the_catalog(catalog: Module) -> None:
    (zone,) = object_literals(catalog.locals["residency_zones"])
    assert model_mismatches(zone, ResidencyZone) == []
    assert set(catalog.locals["document"]) == set(RegionCatalog.model_fields)
    assert catalog.locals["document"]["schema_version"] == 1


def test_a_misnamed_or_missing_key_is_caught(catalog: Module) -> None:
    (entry,) = object_literals(catalog.locals["entries"])
    broken = copy.deepcopy(entry)
    broken["service_bus"] = {"fqdn": broken["service_bus"]["namespace"]}
    del broken["function_app_url"]
    assert sorted(model_mismatches(broken, RegionEntry)) == [
        "function_app_url: required by RegionEntry but not set",
        "service_bus.fqdn: not a field of ServiceBusTarget",
        "service_bus.namespace: required by ServiceBusTarget but not set",
    ]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_environment_catalog_is_valid(environment: str) -> None:
    document = render_catalog(tfvars(environment), SUBSCRIPTION)
    catalog = load_catalog(json.dumps(document), source=f"{environment} region_catalog")
    assert set(catalog.region_names) == set(tfvars(environment)["regions"])
    for region in catalog.regions:
        assert catalog.zone_allows(region.residency_zone, region.name)


def test_prod_spans_three_regions_in_two_zones() -> None:
    catalog = load_catalog(json.dumps(render_catalog(tfvars("prod"), SUBSCRIPTION)))
    assert len(catalog.regions) >= 3
    assert len({r.residency_zone for r in catalog.regions}) >= 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda v: v["regions"]["westeurope"].update(zone="US"), "residency"),
        (lambda v: v["approval"]["default"].update(min_approvals=9), "min_approvals"),
        (lambda v: v["gitops"].update(branch="not a branch"), "branch"),
    ],
)
def test_invalid_tfvars_are_rejected(mutate, message: str) -> None:
    broken = copy.deepcopy(tfvars("dev"))
    mutate(broken)
    with pytest.raises(ConfigurationError, match=message):
        load_catalog(json.dumps(render_catalog(broken, SUBSCRIPTION)))


# Regions that share long prefixes, where truncated names would collide without the hash.
CROWDED_REGIONS = [
    "australiacentral", "australiacentral2", "australiaeast", "australiasoutheast",
    "germanynorth", "germanywestcentral", "southcentralus", "southcentralusstg",
    "switzerlandnorth", "switzerlandwest", "westeurope", "swedencentral", "northeurope",
]  # fmt: skip


@pytest.mark.parametrize("environment", ["dev", "prod", "test"])
def test_global_names_fit_azure_rules_and_never_collide(environment: str) -> None:
    all_names = [names("clr12", environment, region) for region in CROWDED_REGIONS]
    rules = {
        "storage_account": r"^[a-z0-9]{3,24}$",
        "aml_storage_account": r"^[a-z0-9]{3,24}$",
        "key_vault": r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$",
        "aml_key_vault": r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$",
        "registry": r"^[a-zA-Z0-9]{5,50}$",
        "service_bus": r"^[a-zA-Z][a-zA-Z0-9-]{4,48}[a-zA-Z0-9]$",
        "function_app": r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$",
        "monitor_workspace": r"^[a-zA-Z0-9][a-zA-Z0-9-]{2,42}[a-zA-Z0-9]$",
        # Not a catalog name: the managed-Prometheus data collection endpoint (modules/workload/
        # metrics.tf), "MSProm-<aks_cluster>", 3-44 characters like the workspace.
        "aks_cluster": r"^(?=.{3,37}$)[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]$",
    }
    for kind, rule in rules.items():
        values = [n[kind] for n in all_names]
        assert all(re.match(rule, v) for v in values), (kind, values)
        assert len(set(values)) == len(values), kind


_CATALOG_INPUTS = (
    "environment",
    "name_prefix",
    "residency_zones",
    "regions",
    "approval",
    "gitops",
    "identity",
)


def _terraform_catalog(environment: str, workdir: Path) -> dict:
    (workdir / "main.tf").write_text(
        "\n".join(f'variable "{name}" {{\n  type = any\n}}' for name in _CATALOG_INPUTS)
        + f"""
module "catalog" {{
  source          = "{CATALOG.as_posix()}"
  environment     = var.environment
  name_prefix     = var.name_prefix
  subscription_id = "{SUBSCRIPTION}"
  residency_zones = var.residency_zones
  regions         = var.regions
  approval        = var.approval
  gitops          = var.gitops
  identity        = var.identity
  stages          = {{ for region in keys(var.regions) : region => var.stages }}
}}
variable "stages" {{
  type    = any
  default = []
}}
""",
        encoding="utf-8",
    )
    env = tfvars(environment)
    values = {
        k: v
        for k, v in {**env, "environment": env["name"]}.items()
        if k in (*_CATALOG_INPUTS, "stages")
    }
    (workdir / "terraform.tfvars.json").write_text(json.dumps(values), encoding="utf-8")
    run = {"cwd": workdir, "capture_output": True, "text": True, "timeout": 120, "check": True}
    subprocess.run(["terraform", "init", "-backend=false", "-input=false"], **run)
    out = subprocess.run(
        ["terraform", "console"], input="module.catalog.json\n", **run
    ).stdout.strip()
    return json.loads(json.loads(out))


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary installed")
@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_python_rendering_equals_terraforms(environment: str, tmp_path: Path) -> None:
    assert _terraform_catalog(environment, tmp_path) == render_catalog(
        tfvars(environment), SUBSCRIPTION
    )


def test_every_region_checks_the_environments_image_signatures() -> None:
    """One signing key reference for the environment (the CI pipeline's Key Vault key: a
    geo-replicated image is signed once), emitted into every region's catalog entry."""
    env = Module.load(MODULES / "environment")
    call = env.module_calls["catalog"]
    assert unwrap(call["supply_chain"]) == (
        "{for region in keys(local.env.regions) : region => local.env.supply_chain}"
    )
    assert "supply_chain = optional(any, {})" in env.variables["environment"]["type"]
    catalog = Module.load(MODULES / "catalog")
    assert "lookup(var.supply_chain, region, {})" in str(catalog.locals["entries"])
