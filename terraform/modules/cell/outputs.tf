# This cell's catalog entry as deployed: the environment's computed entry with the values
# this cell observes on its own resources. The environment root checks the two agree.
output "catalog_entry" {
  description = "This region's RegionEntry (shared/domain/catalog.py), from the deployed resources."
  value = {
    name             = var.region
    residency_zone   = var.catalog_entry.residency_zone
    function_app_url = "https://${azurerm_function_app_flex_consumption.this.default_hostname}"
    registry = {
      login_server = var.catalog_entry.registry.login_server
      resource_id  = var.registry_id
    }
    storage = {
      account_name = azurerm_storage_account.this.name
    }
    service_bus = {
      namespace = "${azurerm_servicebus_namespace.this.name}.servicebus.windows.net"
    }
    approval = var.catalog_entry.approval
    deployer = var.catalog_entry.deployer
    aks      = var.catalog_entry.aks
    aml      = var.catalog_entry.aml
    gitops   = var.catalog_entry.gitops
  }
}

output "function_app_name" {
  description = "Name of the cell's Function App (the pipeline deploys the code to it)."
  value       = azurerm_function_app_flex_consumption.this.name
}

output "resource_group_name" {
  description = "The cell's resource group."
  value       = azurerm_resource_group.this.name
}

output "function_app_principal_id" {
  description = "Object id of the Function App's managed identity."
  value       = local.app_principal_id
}

output "dead_letter_container" {
  description = "Storage container holding Event Grid dead letters."
  value       = "${azurerm_storage_account.this.primary_blob_endpoint}${local.dead_letter_container}"
}

output "prometheus_query_endpoint" {
  description = "PromQL query endpoint of the region's Azure Monitor workspace (CLEARANCE_PROMETHEUS_QUERY_URL)."
  value       = var.prometheus_query_endpoint
}

output "log_analytics_workspace_id" {
  description = "Workspace id (GUID) of the cell's Log Analytics workspace (CLEARANCE_LOG_ANALYTICS_WORKSPACE_ID)."
  value       = azurerm_log_analytics_workspace.this.workspace_id
}
