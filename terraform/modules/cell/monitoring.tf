resource "azurerm_log_analytics_workspace" "this" {
  name                = var.names.log_analytics
  location            = var.region
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}

# Local (instrumentation-key) auth is off: the Function App sends telemetry with its identity
# (APPLICATIONINSIGHTS_AUTHENTICATION_STRING + Monitoring Metrics Publisher, roles.tf).
resource "azurerm_application_insights" "this" {
  name                          = var.names.application_insights
  location                      = var.region
  resource_group_name           = azurerm_resource_group.this.name
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  application_type              = "other"
  local_authentication_disabled = true
  tags                          = var.tags
}

resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_key_vault.this.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "AuditEvent"
  }
}

resource "azurerm_monitor_diagnostic_setting" "service_bus" {
  name                       = "to-log-analytics"
  target_resource_id         = azurerm_servicebus_namespace.this.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "OperationalLogs"
  }
}

# Resource logs of the blob, queue and table services (read, write, delete). They replace
# classic Storage Analytics logging and storage insights, which need the account keys.
resource "azurerm_monitor_diagnostic_setting" "storage" {
  for_each = toset(["blobServices", "queueServices", "tableServices"])

  name                       = "to-log-analytics"
  target_resource_id         = "${azurerm_storage_account.this.id}/${each.value}/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}
