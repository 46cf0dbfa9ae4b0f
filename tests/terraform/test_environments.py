"""The environment roots and modules/environment: every .tf parses, the roots are thin calls of
the environment module with their tfvars, every region gets a complete cell, and adding a
region is one line."""

from __future__ import annotations

import re

import pytest

from tests.terraform.checks import location_violations
from tests.terraform.environments import ENVIRONMENT_NAMES, tfvars
from tests.terraform.hcl import (
    ENVIRONMENTS,
    MODULES,
    TERRAFORM,
    Module,
    load_file,
    object_type_attributes,
    unwrap,
)

HCL_FILES = sorted(TERRAFORM.rglob("*.tf")) + sorted(TERRAFORM.rglob("*.tfvars"))


def test_environments_exist() -> None:
    assert {"dev", "prod"} <= set(ENVIRONMENT_NAMES)


@pytest.mark.parametrize("path", HCL_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_file_parses(path) -> None:
    assert isinstance(load_file(path), dict)


ENVIRONMENT_MODULE = MODULES / "environment"


@pytest.fixture(scope="module")
def environment_module() -> Module:
    return Module.load(ENVIRONMENT_MODULE)


def _required_variables(module_dir) -> set[str]:
    return {n for n, body in Module.load(module_dir).variables.items() if "default" not in body}


def _environment_attributes() -> dict[str, bool]:
    """Attribute of modules/environment's `environment` object -> required."""
    return object_type_attributes(Module.load(ENVIRONMENT_MODULE).variables["environment"]["type"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_root_is_a_thin_call_of_the_environment_module(environment: str) -> None:
    root = Module.load(ENVIRONMENTS / environment)
    assert root.resources == {}
    (name,) = root.module_calls
    call = root.module_calls[name]
    assert call["source"] == "../../modules/environment"
    missing = _required_variables(ENVIRONMENT_MODULE) - set(call)
    assert not missing, f"environment module called without {missing}"
    for argument, value in call.items():
        if argument != "source":
            assert unwrap(value) == f"var.{argument}", argument
            assert argument in root.variables, argument
    for output in ("region_catalog", "cell"):
        assert unwrap(root.outputs[output]["value"]) == f"module.{name}.{output}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_tfvars_set_exactly_attributes_of_the_environment_object(environment: str) -> None:
    values = tfvars(environment)
    attributes = _environment_attributes()
    assert set(values) - set(attributes) == set(), "tfvars sets attributes the module ignores"
    required = {name for name, is_required in attributes.items() if is_required}
    assert required - set(values) == set(), "tfvars misses required attributes"
    assert set(load_file(ENVIRONMENTS / environment / "terraform.tfvars")) == {"environment"}


def test_a_misspelt_tfvars_attribute_is_caught() -> None:
    attributes = _environment_attributes()
    broken = dict(tfvars("prod"), regoins=tfvars("prod")["regions"])
    del broken["regions"]
    assert set(broken) - set(attributes) == {"regoins"}
    assert attributes["regions"] and not attributes["tags"]


@pytest.mark.parametrize("module_name", ["cell", "workload"])
def test_every_region_gets_a_complete_module(environment_module: Module, module_name: str) -> None:
    call = environment_module.module_calls[module_name]
    assert call["source"] == f"../{module_name}"
    assert unwrap(call["for_each"]) == "local.cells"
    assert unwrap(call["region"]) == "each.key"
    missing = _required_variables(MODULES / module_name) - set(call)
    assert not missing, f"{module_name} called without {missing}"
    # local.cells is the region map narrowed to var.region, which must be one of its keys.
    cells = environment_module.locals["cells"]
    assert "module.catalog.regions" in cells
    assert "name == var.region" in cells
    validation = environment_module.variables["region"]["validation"][0]["condition"]
    assert "contains(keys(var.environment.regions), var.region)" in validation


def test_catalog_gets_every_input_it_requires(environment_module: Module) -> None:
    call = environment_module.module_calls["catalog"]
    assert call["source"] == "../catalog"
    assert not _required_variables(MODULES / "catalog") - set(call)
    for argument in ("residency_zones", "regions", "approval", "gitops"):
        assert unwrap(call[argument]) == f"local.env.{argument}"


def test_cell_is_wired_to_its_own_regions_workload(environment_module: Module) -> None:
    call = environment_module.module_calls["cell"]
    for target in ("registry_id", "aks_cluster_id", "aml_workspace_id"):
        assert unwrap(call[target]) == f"module.workload[each.key].{target}"
    assert unwrap(call["catalog_entry"]) == "module.catalog.entries[each.key]"
    assert unwrap(call["catalog_json"]) == "module.catalog.json"


def test_region_catalog_output_is_the_catalog_document(environment_module: Module) -> None:
    outputs = environment_module.outputs
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
    assert unwrap(aks["local_account_disabled"]) == "!local.create_compute"
    assert "web_app_routing" in aks
    assert workload.resources["azurerm_container_registry.this"]["sku"] == "Premium"
    compute = workload.resources["azapi_resource.kubernetes_compute"]
    assert compute["body"]["properties"]["computeType"] == "Kubernetes"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_region_is_one_line_of_tfvars(environment: str) -> None:
    text = (ENVIRONMENTS / environment / "terraform.tfvars").read_text(encoding="utf-8")
    block = re.search(r"^  regions = \{\n(.*?)^  \}", text, re.S | re.M)
    assert block is not None
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == len(tfvars(environment)["regions"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_backend_is_partial(environment: str) -> None:
    (terraform,) = load_file(ENVIRONMENTS / environment / "versions.tf")["terraform"]
    assert terraform["backend"] == [{"azurerm": {}}]
