# The region's serving cluster: Entra ID + Azure RBAC, the application-routing (managed NGINX)
# add-on, and a separate autoscaled pool for models.
#
# Local accounts stay enabled while the cluster hosts Azure ML compute: Microsoft's AzureML
# extension docs list AKS clusters with local accounts disabled as unsupported. Day-to-day
# access is still Entra ID + Azure RBAC only; the local admin credential (listClusterAdmin
# Credential) is itself guarded by Azure RBAC (docs/operators.md, "Azure ML and AKS").
resource "azurerm_kubernetes_cluster" "this" {
  count = local.create_aks ? 1 : 0

  name                      = var.names.aks_cluster
  location                  = var.region
  resource_group_name       = azurerm_resource_group.serving[0].name
  dns_prefix                = var.names.aks_cluster
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = "Standard"
  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"
  local_account_disabled    = !local.create_compute
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  azure_policy_enabled      = true
  tags                      = var.tags

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_node_vm_size
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = 100
    host_encryption_enabled      = true
    only_critical_addons_enabled = true
    max_pods                     = 110
    auto_scaling_enabled         = true
    min_count                    = 2
    max_count                    = 3
    zones                        = ["1", "2", "3"]
    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  azure_active_directory_role_based_access_control {
    tenant_id              = var.tenant_id
    azure_rbac_enabled     = true
    admin_group_object_ids = var.aks_admin_group_object_ids
  }

  # The operators' and agents' ranges, plus the region's AzureMachineLearning service-tag
  # ranges: Azure ML's control plane calls the API server to install and drive the extension.
  api_server_access_profile {
    authorized_ip_ranges = local.api_server_authorized_ip_ranges
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "cilium"
    network_data_plane  = "cilium"
  }

  web_app_routing {
    dns_zone_ids = []
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  oms_agent {
    log_analytics_workspace_id      = azurerm_log_analytics_workspace.serving[0].id
    msi_auth_for_monitoring_enabled = true
  }

  # Managed Prometheus (the metrics add-on); where it sends: metrics.tf.
  monitor_metrics {}
}

resource "azurerm_kubernetes_cluster_node_pool" "models" {
  count = local.create_aks ? 1 : 0

  name                    = "models"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.this[0].id
  vm_size                 = var.model_node_vm_size
  os_disk_type            = "Ephemeral"
  os_disk_size_gb         = 200
  host_encryption_enabled = true
  max_pods                = 110
  auto_scaling_enabled    = true
  min_count               = var.model_node_count.min
  max_count               = var.model_node_count.max
  zones                   = ["1", "2", "3"]
  tags                    = var.tags
}

# The cluster's kubelet pulls model images from the region's own registry only.
resource "azurerm_role_assignment" "kubelet_acr_pull" {
  count = local.create_aks ? 1 : 0

  scope                = local.registry_id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_kubernetes_cluster.this[0].kubelet_identity[0].object_id
}
