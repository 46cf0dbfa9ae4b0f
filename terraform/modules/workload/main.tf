locals {
  create_registry  = var.existing.registry_id == null
  create_aks       = var.existing.aks_cluster_id == null
  create_workspace = var.existing.aml_workspace_id == null
  create_compute   = var.existing.aml_compute == null
  create_monitor   = var.existing.monitor_workspace_id == null
  create_any       = local.create_registry || local.create_aks || local.create_workspace || local.create_monitor

  registry_id      = local.create_registry ? azurerm_container_registry.this[0].id : var.existing.registry_id
  aks_cluster_id   = local.create_aks ? azurerm_kubernetes_cluster.this[0].id : var.existing.aks_cluster_id
  aml_workspace_id = local.create_workspace ? azurerm_machine_learning_workspace.this[0].id : var.existing.aml_workspace_id

  api_server_authorized_ip_ranges = distinct(concat(
    var.api_server_authorized_ip_ranges,
    local.create_compute ? data.azurerm_network_service_tags.azure_machine_learning[0].ipv4_cidrs : [],
  ))
}

# The region's Azure ML control-plane ranges (service tag AzureMachineLearning.<region>),
# read from the Service Tag Discovery API at plan time, so the list follows Microsoft's
# weekly updates on every apply.
data "azurerm_network_service_tags" "azure_machine_learning" {
  count = local.create_compute ? 1 : 0

  location        = var.region
  service         = "AzureMachineLearning"
  location_filter = var.region
}

resource "azurerm_resource_group" "serving" {
  count = local.create_any || local.flux_installed ? 1 : 0

  name     = var.names.serving_resource_group
  location = var.region
  tags     = var.tags
}

resource "azurerm_log_analytics_workspace" "serving" {
  count = local.create_aks || local.create_workspace ? 1 : 0

  name                = "${var.names.log_analytics}-serving"
  location            = var.region
  resource_group_name = azurerm_resource_group.serving[0].name
  sku                 = "PerGB2018"
  retention_in_days   = 90
  tags                = var.tags
}
