# Subscription and credentials come from the environment (ARM_SUBSCRIPTION_ID, ARM_USE_OIDC,
# ARM_CLIENT_ID, ARM_TENANT_ID in the pipeline; `az login` on an operator's machine).
# azapi and random need no configuration: the modules get their default (empty) ones.
provider "azurerm" {
  # Storage data-plane calls use Entra ID: the cell's storage accounts have shared keys off.
  storage_use_azuread = true

  features {
    # Soft-deleted vaults stay recoverable (purge protection is on anyway); resource groups
    # that still hold resources Terraform does not know are never deleted.
    key_vault { purge_soft_delete_on_destroy = false }
    resource_group { prevent_deletion_if_contains_resources = true }
  }
}
