"""The environment roots: every .tf parses, every region gets a complete cell, and adding a
region is one line."""

from __future__ import annotations

import re

import pytest

from tests.terraform.checks import location_violations
from tests.terraform.environments import ENVIRONMENT_NAMES
from tests.terraform.hcl import ENVIRONMENTS, MODULES, TERRAFORM, Module, load_file, unwrap

HCL_FILES = sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars"))


def test_environments_exist() -> None:
    assert {"dev", "prod"} <= set(ENVIRONMENT_NAMES)


@pytest.mark.parametrize("path", HCL_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_file_parses(path) -> None:
    assert isinstance(load_file(path), dict)


def test_dev_and_prod_differ_only_in_their_values() -> None:
    dev, prod = ENVIRONMENTS / "dev", ENVIRONMENTS / "prod"
    assert sorted(p.name for p in dev.glob("*.tf")) == sorted(p.name for p in prod.glob("*.tf"))
    for tf in prod.glob("*.tf"):
        assert (dev / tf.name).read_text() == tf.read_text(), tf.name


def _required_variables(module_dir) -> set[str]:
    return {n for n, body in Module.load(module_dir).variables.items() if "default" not in body}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
@pytest.mark.parametrize("module_name", ["cell", "workload"])
def test_every_region_gets_a_complete_module(environment: str, module_name: str) -> None:
    root = Module.load(ENVIRONMENTS / environment)
    call = root.module_calls[module_name]
    assert call["source"] == f"../../modules/{module_name}"
    assert unwrap(call["for_each"]) == "local.cells"
    assert unwrap(call["region"]) == "each.key"
    missing = _required_variables(MODULES / module_name) - set(call)
    assert not missing, f"{module_name} called without {missing}"
    # local.cells is the region map narrowed to var.region, which must be one of its keys.
    cells = root.locals["cells"]
    assert "module.catalog.regions" in cells
    assert "name == var.region" in cells
    validation = root.variables["region"]["validation"][0]["condition"]
    assert "contains(keys(var.regions), var.region)" in validation


def test_cell_is_wired_to_its_own_regions_workload() -> None:
    call = Module.load(ENVIRONMENTS / "prod").module_calls["cell"]
    for target in ("registry_id", "aks_cluster_id", "aml_workspace_id"):
        assert unwrap(call[target]) == f"module.workload[each.key].{target}"
    assert unwrap(call["catalog_entry"]) == "module.catalog.entries[each.key]"
    assert unwrap(call["catalog_json"]) == "module.catalog.json"


def test_region_catalog_output_is_the_catalog_document() -> None:
    outputs = Module.load(ENVIRONMENTS / "prod").outputs
    assert unwrap(outputs["region_catalog"]["value"]) == "module.catalog.document"


def test_workload_resources_stay_in_the_region() -> None:
    assert location_violations(Module.load(MODULES / "workload")) == []


def test_workload_can_reference_existing_resources() -> None:
    workload = Module.load(MODULES / "workload")
    for address in ("azurerm_container_registry.this", "azurerm_kubernetes_cluster.this",
                    "azurerm_machine_learning_workspace.this"):  # fmt: skip
        assert unwrap(workload.resources[address]["count"]).startswith("local.create_")
    aks = workload.resources["azurerm_kubernetes_cluster.this"]
    assert aks["azure_active_directory_role_based_access_control"][0]["azure_rbac_enabled"]
    assert aks["local_account_disabled"] is True
    assert "web_app_routing" in aks
    assert workload.resources["azurerm_container_registry.this"]["sku"] == "Premium"
    compute = workload.resources["azapi_resource.kubernetes_compute"]
    assert compute["body"]["properties"]["computeType"] == "Kubernetes"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_region_is_one_line_of_tfvars(environment: str) -> None:
    text = (ENVIRONMENTS / environment / "terraform.tfvars").read_text(encoding="utf-8")
    block = re.search(r"^regions = \{\n(.*?)^\}", text, re.S | re.M)
    assert block is not None
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == len(load_file(ENVIRONMENTS / environment / "terraform.tfvars")["regions"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_backend_is_partial(environment: str) -> None:
    (terraform,) = load_file(ENVIRONMENTS / environment / "versions.tf")["terraform"]
    assert terraform["backend"] == [{"azurerm": {}}]
