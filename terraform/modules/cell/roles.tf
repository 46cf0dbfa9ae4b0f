# Least privilege for the cell identity (identity.tf): data-plane roles on this cell's own
# resources and on its own region's registry, cluster and workspace, never another cell's.
# tests/terraform/test_cell.py fails on any scope that is not one of these.
locals {
  app_principal_id = azurerm_user_assigned_identity.cell.principal_id
  # The app's system-assigned identity: Key Vault references only (function_app.tf).
  key_vault_reference_principal_id = azurerm_function_app_flex_consumption.this.identity[0].principal_id

  app_roles = {
    acr_pull      = { scope = var.registry_id, role = "AcrPull" }
    blob_data     = { scope = azurerm_storage_account.this.id, role = "Storage Blob Data Owner" }
    queue_data    = { scope = azurerm_storage_account.this.id, role = "Storage Queue Data Contributor" }
    table_data    = { scope = azurerm_storage_account.this.id, role = "Storage Table Data Contributor" }
    bus_sender    = { scope = azurerm_servicebus_namespace.this.id, role = "Azure Service Bus Data Sender" }
    bus_receiver  = { scope = azurerm_servicebus_namespace.this.id, role = "Azure Service Bus Data Receiver" }
    aks_user      = { scope = var.aks_cluster_id, role = "Azure Kubernetes Service Cluster User Role" }
    aml_scientist = { scope = var.aml_workspace_id, role = "AzureML Data Scientist" }
    telemetry     = { scope = azurerm_application_insights.this.id, role = "Monitoring Metrics Publisher" }
    # Metric analysis (issue 16): PromQL on the region's Azure Monitor workspace, KQL on the
    # cell's Log Analytics workspace. Read only.
    prometheus_reader = { scope = var.monitor_workspace_id, role = "Monitoring Data Reader" }
    logs_reader       = { scope = azurerm_log_analytics_workspace.this.id, role = "Log Analytics Reader" }
  }
}

resource "azurerm_role_assignment" "app" {
  for_each = local.app_roles

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

# Role assignments take effect only after Entra ID and Resource Manager have propagated them
# (Microsoft documents "up to 10 minutes" in the worst case; a few minutes is typical). The
# Function App, whose host reaches its storage at its first start, waits for this.
resource "time_sleep" "cell_roles_propagation" {
  create_duration = var.rbac_propagation_wait
  triggers = merge(
    { for key, assignment in azurerm_role_assignment.app : key => assignment.id },
    { checkpoint_signer = azurerm_role_assignment.app_checkpoint_signer.id },
  )
}

# Key Vault references resolve with the app's system-assigned identity (function_app.tf).
resource "azurerm_role_assignment" "key_vault_references" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = local.key_vault_reference_principal_id
  principal_type       = "ServicePrincipal"
}

# Kubernetes writes are limited to the model namespaces of the region's own cluster.
resource "azurerm_role_assignment" "app_aks_namespace_writer" {
  for_each = toset(var.model_namespaces)

  scope                = "${var.aks_cluster_id}/namespaces/${each.value}"
  role_definition_name = "Azure Kubernetes Service RBAC Writer"
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

# The system topics' identities may write dead letters into the dead-letter container only.
resource "azurerm_role_assignment" "registry_topic_dead_letter" {
  scope                = azurerm_storage_container.this["dead_letter"].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.registry.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "aml_topic_dead_letter" {
  scope                = azurerm_storage_container.this["dead_letter"].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.aml.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# The principal running Terraform writes the first link-signing key version. The vault's
# data plane honours the assignment only once it has propagated: without the wait the first
# apply fails with 403 ForbiddenByRbac on the secret write (key_vault.tf).
resource "azurerm_role_assignment" "deployer_secrets_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = var.deployer_object_id
}

resource "time_sleep" "deployer_secrets_officer_propagation" {
  create_duration = var.rbac_propagation_wait
  triggers        = { assignment = azurerm_role_assignment.deployer_secrets_officer.id }
}

# The principal running Terraform also creates the lineage-checkpoint key (key_vault.tf) and
# sets its rotation policy: "Key Vault Crypto Officer", with the same propagation wait.
resource "azurerm_role_assignment" "deployer_crypto_officer" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Crypto Officer"
  principal_id         = var.deployer_object_id
}

resource "time_sleep" "deployer_crypto_officer_propagation" {
  create_duration = var.rbac_propagation_wait
  triggers        = { assignment = azurerm_role_assignment.deployer_crypto_officer.id }
}

# --- Lineage checkpoint signing (issue 12). ---
# Custom roles, because no built-in role is this narrow: "Key Vault Crypto User" also allows
# encrypt, decrypt, wrap, unwrap and verify with every key of the vault. Custom roles cannot
# be made assignable at a single resource, so the definitions are assignable in the cell's
# resource group and each assignment is scoped to the one key (Key Vault RBAC honours
# key-level assignments). Role names are unique per tenant: they carry the cell's name.
resource "azurerm_role_definition" "checkpoint_signer" {
  name              = "Clearance checkpoint signer (${var.names.function_app})"
  scope             = azurerm_resource_group.this.id
  assignable_scopes = [azurerm_resource_group.this.id]
  description       = "Sign with, and read the public half of, the cell's lineage-checkpoint key; nothing else."

  permissions {
    actions = []
    data_actions = [
      "Microsoft.KeyVault/vaults/keys/sign/action",
      "Microsoft.KeyVault/vaults/keys/read",
    ]
  }
}

resource "azurerm_role_definition" "checkpoint_key_reader" {
  name              = "Clearance checkpoint key reader (${var.names.function_app})"
  scope             = azurerm_resource_group.this.id
  assignable_scopes = [azurerm_resource_group.this.id]
  description       = "Read the cell's lineage-checkpoint key (public half, versions); no cryptographic operation."

  permissions {
    actions      = []
    data_actions = ["Microsoft.KeyVault/vaults/keys/read"]
  }
}

# The key's Resource Manager id (scope of the two key-level assignments): written out, so the
# least-privilege test can read it; depends_on orders it after the key.
resource "azurerm_role_assignment" "app_checkpoint_signer" {
  scope              = "${azurerm_key_vault.this.id}/keys/lineage-checkpoint"
  role_definition_id = azurerm_role_definition.checkpoint_signer.role_definition_resource_id
  principal_id       = local.app_principal_id
  principal_type     = "ServicePrincipal"

  depends_on = [azurerm_key_vault_key.lineage_checkpoint]
}

# Auditors (optional): read the lineage table and chain-head blobs of this cell, and fetch the
# checkpoint key's public half to verify signatures offline (docs/auditors.md).
locals {
  auditor_roles = {
    table_reader = { scope = azurerm_storage_account.this.id, role = "Storage Table Data Reader" }
    blob_reader  = { scope = azurerm_storage_account.this.id, role = "Storage Blob Data Reader" }
  }
}

resource "azurerm_role_assignment" "auditors" {
  for_each = var.auditors_group_object_id == null ? {} : local.auditor_roles

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = var.auditors_group_object_id
  principal_type       = "Group"
}

resource "azurerm_role_assignment" "auditors_checkpoint_key_reader" {
  count = var.auditors_group_object_id == null ? 0 : 1

  scope              = "${azurerm_key_vault.this.id}/keys/lineage-checkpoint"
  role_definition_id = azurerm_role_definition.checkpoint_key_reader.role_definition_resource_id
  principal_id       = var.auditors_group_object_id
  principal_type     = "Group"

  depends_on = [azurerm_key_vault_key.lineage_checkpoint]
}

# --- Mail through Azure Communication Services with the cell identity (issue 20). ---
# ACS has no data action for sending mail: Microsoft documents, for Entra ID (service
# principal / managed identity) senders, a role with Microsoft.Communication/
# CommunicationServices/Read and /Write and Microsoft.Communication/EmailServices/write on the
# Communication Services resource. The built-in "Communication and Email Service Owner" also
# allows every other management operation on ACS and Email resources (domains, keys), so a
# custom role with those three actions instead. It is assignable in the ACS resource's group
# (custom roles cannot be assignable at one resource) and assigned on the ACS resource only.
locals {
  acs_resource_group_id = var.mail.acs_resource_id == null ? null : join("/", slice(split("/", var.mail.acs_resource_id), 0, 5))
}

resource "azurerm_role_definition" "mail_sender" {
  count = var.mail.acs_resource_id == null ? 0 : 1

  name              = "Clearance mail sender (${var.names.function_app})"
  scope             = local.acs_resource_group_id
  assignable_scopes = [local.acs_resource_group_id]
  description       = "Send email through Azure Communication Services with Entra ID authentication."

  permissions {
    actions = [
      "Microsoft.Communication/CommunicationServices/Read",
      "Microsoft.Communication/CommunicationServices/Write",
      "Microsoft.Communication/EmailServices/write",
    ]
    data_actions = []
  }
}

resource "azurerm_role_assignment" "app_mail_sender" {
  count = var.mail.acs_resource_id == null ? 0 : 1

  scope              = var.mail.acs_resource_id
  role_definition_id = azurerm_role_definition.mail_sender[0].role_definition_resource_id
  principal_id       = local.app_principal_id
  principal_type     = "ServicePrincipal"
}
