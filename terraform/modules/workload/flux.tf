# Optional GitOps: the Flux extension reconciles the region's path of the GitOps repository.
#
# The repository is a private Azure DevOps repo. Flux's source-controller authenticates with
# workload identity (git_repository.provider = "Azure"): a user-assigned identity federated
# with the source-controller service account, so no PAT or SSH key exists anywhere, in state
# or in the cluster. First apply: add that identity (output flux_identity) to the Azure DevOps
# organisation and give it Reader on the repository (docs/operators.md, "First apply").
resource "azurerm_user_assigned_identity" "flux" {
  count = var.flux != null ? 1 : 0

  name                = "id-${var.names.aks_cluster}-flux"
  location            = var.region
  resource_group_name = azurerm_resource_group.serving[0].name
  tags                = var.tags
}

data "azurerm_kubernetes_cluster" "existing" {
  count = var.flux != null && !local.create_aks ? 1 : 0

  name                = split("/", var.existing.aks_cluster_id)[8]
  resource_group_name = split("/", var.existing.aks_cluster_id)[4]
}

resource "azurerm_federated_identity_credential" "flux" {
  count = var.flux != null ? 1 : 0

  name                = "flux-source-controller"
  resource_group_name = azurerm_resource_group.serving[0].name
  parent_id           = azurerm_user_assigned_identity.flux[0].id
  issuer              = local.create_aks ? azurerm_kubernetes_cluster.this[0].oidc_issuer_url : data.azurerm_kubernetes_cluster.existing[0].oidc_issuer_url
  subject             = "system:serviceaccount:flux-system:source-controller"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_kubernetes_cluster_extension" "flux" {
  count = var.flux != null ? 1 : 0

  name           = "flux"
  cluster_id     = local.aks_cluster_id
  extension_type = "microsoft.flux"

  configuration_settings = {
    "workloadIdentity.enable"        = "true"
    "workloadIdentity.azureClientId" = azurerm_user_assigned_identity.flux[0].client_id
  }
}

resource "azurerm_kubernetes_flux_configuration" "models" {
  count = var.flux != null ? 1 : 0

  name       = "clearance-models"
  cluster_id = local.aks_cluster_id
  namespace  = "flux-system"
  scope      = "cluster"

  git_repository {
    url             = var.flux.repository_url
    reference_type  = "branch"
    reference_value = var.flux.branch
    provider        = "Azure"
  }

  kustomizations {
    name                       = "models"
    path                       = var.flux.path
    garbage_collection_enabled = true
    sync_interval_in_seconds   = 120
  }

  depends_on = [azurerm_kubernetes_cluster_extension.flux, azurerm_federated_identity_credential.flux]
}
