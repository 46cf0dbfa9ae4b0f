# The region's Azure Machine Learning workspace (with the storage, Key Vault and Application
# Insights it requires) and the AKS cluster attached to it as Kubernetes compute.

resource "azurerm_application_insights" "aml" {
  count = local.create_workspace ? 1 : 0

  name                          = "${var.names.application_insights}-aml"
  location                      = var.region
  resource_group_name           = azurerm_resource_group.serving[0].name
  workspace_id                  = azurerm_log_analytics_workspace.serving[0].id
  application_type              = "other"
  local_authentication_disabled = true
  tags                          = var.tags
}

resource "azurerm_key_vault" "aml" {
  count = local.create_workspace ? 1 : 0

  name                          = var.names.aml_key_vault
  location                      = var.region
  resource_group_name           = azurerm_resource_group.serving[0].name
  tenant_id                     = var.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true
  tags                          = var.tags

  network_acls {
    bypass         = "AzureServices"
    default_action = "Allow"
  }
}

resource "azurerm_storage_account" "aml" {
  count = local.create_workspace ? 1 : 0

  name                            = var.names.aml_storage_account
  location                        = var.region
  resource_group_name             = azurerm_resource_group.serving[0].name
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  account_kind                    = "StorageV2"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false
  local_user_enabled              = false
  default_to_oauth_authentication = true
  tags                            = var.tags

  blob_properties {
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

resource "azurerm_machine_learning_workspace" "this" {
  count = local.create_workspace ? 1 : 0

  name                          = var.names.aml_workspace
  location                      = var.region
  resource_group_name           = azurerm_resource_group.serving[0].name
  application_insights_id       = azurerm_application_insights.aml[0].id
  key_vault_id                  = azurerm_key_vault.aml[0].id
  storage_account_id            = azurerm_storage_account.aml[0].id
  container_registry_id         = local.registry_id
  public_network_access_enabled = true
  system_datastores_auth_mode   = "identity"
  high_business_impact          = true
  v1_legacy_mode_enabled        = false
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

# The AzureML extension turns the cluster into a target AML can deploy online endpoints to.
resource "azurerm_kubernetes_cluster_extension" "azureml" {
  count = local.create_compute ? 1 : 0

  name           = "azureml"
  cluster_id     = local.aks_cluster_id
  extension_type = "Microsoft.AzureML.Kubernetes"

  configuration_settings = {
    enableInference              = "true"
    inferenceRouterServiceType   = "ClusterIP"
    internalLoadBalancerProvider = "azure"
    allowInsecureConnections     = "false"
    inferenceRouterHA            = "true"
    installNvidiaDevicePlugin    = "false"
    installPromOp                = "true"
    installVolcano               = "true"
    installDcgmExporter          = "false"
  }
}

# azurerm has no resource for Kubernetes (Arc-style) compute, so it is attached through azapi.
resource "azapi_resource" "kubernetes_compute" {
  count = local.create_compute ? 1 : 0

  type      = "Microsoft.MachineLearningServices/workspaces/computes@2024-04-01"
  name      = var.names.aml_compute
  parent_id = local.aml_workspace_id
  location  = var.region

  identity {
    type = "SystemAssigned"
  }

  body = {
    properties = {
      computeType = "Kubernetes"
      resourceId  = local.aks_cluster_id
      properties = {
        namespace = "azureml"
      }
    }
  }

  depends_on = [azurerm_kubernetes_cluster_extension.azureml]
}
