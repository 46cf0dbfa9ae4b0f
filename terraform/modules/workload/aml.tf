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
  rbac_authorization_enabled    = true
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
  # The default datastores reach the workspace storage with the workspace identity, not the
  # account key (shared keys are off on it): "Identity", case-sensitive (azurerm >= 4.77.0).
  storage_account_access_type = "Identity"
  high_business_impact        = true
  v1_legacy_mode_enabled      = false
  tags                        = var.tags

  identity {
    type = "SystemAssigned"
  }
}

# The datastores' identity access (storage_account_access_type = "Identity") needs the
# workspace identity's data-plane roles on its storage (Microsoft: "Disable shared key access
# for your workspace's storage account").
resource "azurerm_role_assignment" "workspace_storage" {
  for_each = local.create_workspace ? toset(["Storage Blob Data Contributor", "Storage File Data Privileged Contributor"]) : toset([])

  scope                = azurerm_storage_account.aml[0].id
  role_definition_name = each.value
  principal_id         = azurerm_machine_learning_workspace.this[0].identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# The registry's admin user stays off: with it disabled, Azure ML builds and pulls images with
# the workspace's managed identity (Microsoft: "Use managed identities with Azure Machine
# Learning", bring your own ACR; only ACI deployments need the admin user, and Clearance
# serves on AKS). The workspace identity needs push and pull on it.
resource "azurerm_role_assignment" "workspace_registry" {
  count = local.create_workspace ? 1 : 0

  scope                = local.registry_id
  role_definition_name = "AcrPush"
  principal_id         = azurerm_machine_learning_workspace.this[0].identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

locals {
  # The inference router's HA mode runs three replicas on distinct nodes; with fewer model
  # nodes it cannot schedule them, so it follows the pool's minimum size.
  inference_router_ha = var.model_node_count.min >= 3
  # TLS on the inference router: with var.inference_tls, HTTPS with the given name and
  # certificate (Microsoft: sslCname plus certificate and key, which Azure Resource Manager
  # takes base64-encoded as scoringFe.sslCert / scoringFe.sslKey). Without it, plain HTTP,
  # acceptable only because the router is a ClusterIP service reachable from inside the
  # cluster alone (docs/operators.md, "Azure ML and AKS").
  inference_tls_settings = var.inference_tls == null ? { allowInsecureConnections = "true" } : {
    allowInsecureConnections = "false"
    sslCname                 = var.inference_tls.cname
  }
}

# The AzureML extension turns the cluster into a target AML can deploy online endpoints to.
resource "azurerm_kubernetes_cluster_extension" "azureml" {
  count = local.create_compute ? 1 : 0

  name           = "azureml"
  cluster_id     = local.aks_cluster_id
  extension_type = "Microsoft.AzureML.Kubernetes"

  configuration_settings = merge({
    enableInference              = "true"
    inferenceRouterServiceType   = "ClusterIP"
    internalLoadBalancerProvider = "azure"
    inferenceRouterHA            = tostring(local.inference_router_ha)
    installNvidiaDevicePlugin    = "false"
    installPromOp                = "true"
    installVolcano               = "true"
    installDcgmExporter          = "false"
  }, local.inference_tls_settings)

  configuration_protected_settings = var.inference_tls == null ? {} : {
    "scoringFe.sslCert" = base64encode(var.inference_tls.certificate_pem)
    "scoringFe.sslKey"  = base64encode(var.inference_tls.private_key_pem)
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
