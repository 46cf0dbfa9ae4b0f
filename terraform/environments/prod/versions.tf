# Provider pins of this root. The exact versions are in .terraform.lock.hcl (commit it after
# the first `terraform init`, docs/operators.md); the modules carry the same constraints.
terraform {
  required_version = ">= 1.11.0"
  required_providers {
    azurerm = { source = "hashicorp/azurerm", version = ">= 4.77.0, < 5.0.0" }
  }

  # Partial configuration: one state per environment and region. Supply the rest at init:
  #   terraform init -backend-config=backend.hcl -backend-config="key=<environment>/<region>.tfstate"
  # backend.hcl: resource_group_name, storage_account_name, container_name, use_azuread_auth
  # (see backend.example.hcl and docs/operators.md).
  backend "azurerm" {}
}
