# Least privilege for the cell identity (identity.tf): data-plane roles on this cell's own
# resources and on its own region's registry, cluster and workspace, never another cell's.
# tests/terraform/test_cell.py fails on any scope that is not one of these.
locals {
  app_principal_id = azurerm_user_assigned_identity.cell.principal_id
  # The app's system-assigned identity: Key Vault references only (function_app.tf).
  key_vault_reference_principal_id = azurerm_function_app_flex_consumption.this.identity[0].principal_id

  app_roles = {
    acr_pull          = { scope = var.registry_id, role = "AcrPull" }
    blob_data         = { scope = azurerm_storage_account.this.id, role = "Storage Blob Data Owner" }
    queue_data        = { scope = azurerm_storage_account.this.id, role = "Storage Queue Data Contributor" }
    table_data        = { scope = azurerm_storage_account.this.id, role = "Storage Table Data Contributor" }
    bus_sender        = { scope = azurerm_servicebus_namespace.this.id, role = "Azure Service Bus Data Sender" }
    bus_receiver      = { scope = azurerm_servicebus_namespace.this.id, role = "Azure Service Bus Data Receiver" }
    aks_user          = { scope = var.aks_cluster_id, role = "Azure Kubernetes Service Cluster User Role" }
    aml_scientist     = { scope = var.aml_workspace_id, role = "AzureML Data Scientist" }
    telemetry         = { scope = azurerm_application_insights.this.id, role = "Monitoring Metrics Publisher" }
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
  triggers        = { for key, assignment in azurerm_role_assignment.app : key => assignment.id }
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
