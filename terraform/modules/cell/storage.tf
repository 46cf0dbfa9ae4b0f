# The cell's own storage account: the lineage table, the intake ledger (de-duplication of
# deliveries), the immutable lineage chain-head container, the Flex Consumption deployment
# container and the Event Grid dead-letter container. Shared keys are off: the runtime, the deployment and the app all use
# the Function App's managed identity.
locals {
  # Names: shared/adapters/storage/lineage/writer.py and table_intake_ledger.py (checked by tests).
  tables = {
    lineage       = "lineage"
    intake_ledger = "intakeledger"
  }
  containers = {
    chain_heads = "lineage-heads"
    deployment  = "deployment-package"
    dead_letter = "eventgrid-deadletter"
  }
}

resource "azurerm_storage_account" "this" {
  name                            = var.names.storage_account
  location                        = var.region
  resource_group_name             = azurerm_resource_group.this.name
  account_tier                    = "Standard"
  account_kind                    = "StorageV2"
  account_replication_type        = "ZRS"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  local_user_enabled              = false
  tags                            = var.tags

  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 30
    }
    container_delete_retention_policy {
      days = 30
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

# Tables through Resource Manager (azapi), not azurerm_storage_table: after creating a table
# that resource sets its ACL through the table data plane with shared-key auth only, which
# fails with 403 KeyBasedAuthenticationNotPermitted on this account (azurerm issues #32249,
# #30815). A Resource Manager PUT needs no data-plane access at all.
resource "azapi_resource" "table" {
  for_each = local.tables

  type      = "Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01"
  name      = each.value
  parent_id = "${azurerm_storage_account.this.id}/tableServices/default"
  body      = { properties = {} }
}

resource "azurerm_storage_container" "this" {
  for_each = { for key, name in local.containers : key => name if key != "chain_heads" }

  name                  = each.value
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# Chain heads (issue 12): a container with version-level immutability (WORM) support, created
# through Resource Manager because azurerm_storage_container cannot enable it (azurerm issue
# #21512, open) and the property can only be set when a container is created (existing
# containers need Microsoft's migration, docs/operators.md). Not account-level immutability:
# that can only be set on a new account and would also freeze the Function App's host and
# deployment containers in this account. Requires blob versioning (blob_properties above).
resource "azapi_resource" "chain_heads_container" {
  type      = "Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01"
  name      = local.containers.chain_heads
  parent_id = "${azurerm_storage_account.this.id}/blobServices/default"
  body = {
    properties = {
      publicAccess                   = "None"
      immutableStorageWithVersioning = { enabled = true }
    }
  }
}

# The container's default time-based retention: every blob version written into it inherits it,
# so no version can be overwritten or deleted before it expires, not even by the account owner
# once locked. The app only ever creates new blobs (never appends), so no protected appends.
resource "azurerm_storage_container_immutability_policy" "chain_heads" {
  storage_container_resource_manager_id = azapi_resource.chain_heads_container.id
  immutability_period_in_days           = var.lineage_immutability.days
  protected_append_writes_enabled       = false
  protected_append_writes_all_enabled   = false
  locked                                = var.lineage_immutability.locked
}
