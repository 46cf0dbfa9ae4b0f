"""Every argument and block in terraform/ exists in the provider schema (offline), and the
provider constraints everywhere admit only versions that have them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform.hcl import TERRAFORM, load_file
from tests.terraform.schema import (
    NEWER_ARGUMENTS,
    azurerm_schema,
    file_problems,
    tf_files,
    tree_problems,
)

AZURERM_CONSTRAINT = ">= 4.77.0, < 5.0.0"
AZAPI_CONSTRAINT = ">= 2.4.0, < 3.0.0"

# Arguments the schema still has but azurerm deprecated, with their replacement; they would be
# removed by azurerm 5.0 and must not come back.
DEPRECATED = {
    "enable_rbac_authorization": "rbac_authorization_enabled (azurerm_key_vault, 4.42.0)",
    "trust_policy_enabled": "none: ACR content trust is deprecated (azurerm_container_registry)",
}


def test_every_resource_matches_the_provider_schema() -> None:
    problems = tree_problems()
    assert problems == [], "\n".join(["offline schema violations:", *problems])


def test_schema_records_its_provenance() -> None:
    provenance = azurerm_schema()["provenance"]
    assert provenance["package"] == "@cdktf/provider-azurerm"
    assert provenance["package_version"] == "14.23.1"
    assert provenance["azurerm_version"] == "4.55.0"
    assert provenance["generated_by"] == "scripts/extract_azurerm_schema.py"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "main.tf"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_original_unsupported_arguments_are_caught(tmp_path: Path) -> None:
    """The three arguments issue 19 found, as terraform/ had them (commit 200249d)."""
    path = _write(
        tmp_path,
        """
resource "azurerm_function_app_flex_consumption" "this" {
  name                                       = "f"
  location                                   = "westeurope"
  resource_group_name                        = "rg"
  service_plan_id                            = "plan"
  runtime_name                               = "python"
  runtime_version                            = "3.11"
  storage_container_type                     = "blobContainer"
  storage_container_endpoint                 = "https://x"
  storage_authentication_type                = "SystemAssignedIdentity"
  function_app_storage_account_name          = "st"
  function_app_storage_uses_managed_identity = true
  site_config {}
}

resource "azurerm_machine_learning_workspace" "this" {
  name                        = "w"
  location                    = "westeurope"
  resource_group_name         = "rg"
  application_insights_id     = "a"
  key_vault_id                = "k"
  storage_account_id          = "s"
  system_datastores_auth_mode = "identity"
  identity {
    type = "SystemAssigned"
  }
}
""",
    )
    assert file_problems(path, tmp_path) == [
        "main.tf: azurerm_function_app_flex_consumption.this: "
        "unknown argument function_app_storage_account_name",
        "main.tf: azurerm_function_app_flex_consumption.this: "
        "unknown argument function_app_storage_uses_managed_identity",
        "main.tf: azurerm_machine_learning_workspace.this: "
        "unknown argument system_datastores_auth_mode",
    ]


def test_unknown_blocks_misplaced_blocks_and_missing_required_are_caught(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
resource "azurerm_storage_account" "this" {
  count                    = 1
  name                     = "st"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "ZRS"
  blob_properties {
    versioning = true
    delete_retention_policy {
      days = 7
    }
  }
  sas_policy = { expiration_period = "1.00:00:00" }
  network_rule {
    default_action = "Deny"
  }
  lifecycle {
    ignore_changes = [tags]
    postcondition {
      condition = true
    }
  }
  depends_on = []
}

resource "azurerm_kubernetes_cluster" "this" {
  name                = "aks"
  location            = "westeurope"
  resource_group_name = "rg"
  dns_prefix          = "aks"
  dynamic "default_node_pool" {
    for_each = [1]
    content {
      name    = "system"
      vm_size = "Standard_D4ds_v5"
      color   = "blue"
    }
  }
}

resource "azurerm_not_a_resource" "x" {}
""",
    )
    assert file_problems(path, tmp_path) == [
        "main.tf: azurerm_storage_account.this.blob_properties: unknown argument versioning",
        "main.tf: azurerm_storage_account.this: sas_policy is a block, written as an argument",
        "main.tf: azurerm_storage_account.this: unknown block network_rule",
        "main.tf: azurerm_storage_account.this.lifecycle.postcondition: "
        "missing required argument error_message",
        "main.tf: azurerm_storage_account.this: missing required argument resource_group_name",
        "main.tf: azurerm_kubernetes_cluster.this.default_node_pool: unknown argument color",
        "main.tf: azurerm_not_a_resource.x: type not in the offline schema",
    ]


def test_azapi_and_time_resources_are_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
resource "azapi_resource" "t" {
  name      = "lineage"
  parent_id = "x"
  bodyy     = {}
}

resource "time_sleep" "wait" {
  create_duration = "60s"
  duration        = "1m"
}
""",
    )
    assert file_problems(path, tmp_path) == [
        "main.tf: azapi_resource.t: unknown argument bodyy",
        "main.tf: azapi_resource.t: missing required argument type",
        "main.tf: time_sleep.wait: unknown argument duration",
    ]


def test_newer_arguments_are_missing_from_the_schema_and_within_the_floor() -> None:
    floor = tuple(int(n) for n in AZURERM_CONSTRAINT.split(",")[0].removeprefix(">= ").split("."))
    for (rtype, argument), release in NEWER_ARGUMENTS.items():
        schema = azurerm_schema()["resources"][rtype]
        assert argument not in schema["arguments"], f"{rtype}.{argument} is in 4.55.0: drop it"
        assert tuple(int(n) for n in release.split(".")) <= floor, (rtype, argument, release)


def _required_providers() -> list[tuple[Path, str, dict]]:
    found = []
    for path in tf_files():
        for block in load_file(path).get("terraform", []):
            for providers in block.get("required_providers", []):
                found += [(path, name, spec) for name, spec in providers.items()]
    return found


def test_provider_constraints_are_the_same_everywhere() -> None:
    constraints = {name: set() for name in ("azurerm", "azapi")}
    for _path, name, spec in _required_providers():
        if name in constraints:
            constraints[name].add(spec["version"])
    assert constraints == {"azurerm": {AZURERM_CONSTRAINT}, "azapi": {AZAPI_CONSTRAINT}}


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_no_deprecated_arguments(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    used = {name for name in DEPRECATED if re.search(rf"^\s*{name}\s*=", text, re.M)}
    assert not used, {name: DEPRECATED[name] for name in used}
