locals {
  create_registry  = var.existing.registry_id == null
  create_aks       = var.existing.aks_cluster_id == null
  create_workspace = var.existing.aml_workspace_id == null
  create_compute   = var.existing.aml_compute == null
  create_any       = local.create_registry || local.create_aks || local.create_workspace

  registry_id      = local.create_registry ? azurerm_container_registry.this[0].id : var.existing.registry_id
  aks_cluster_id   = local.create_aks ? azurerm_kubernetes_cluster.this[0].id : var.existing.aks_cluster_id
  aml_workspace_id = local.create_workspace ? azurerm_machine_learning_workspace.this[0].id : var.existing.aml_workspace_id
}

resource "azurerm_resource_group" "serving" {
  count = local.create_any ? 1 : 0

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
