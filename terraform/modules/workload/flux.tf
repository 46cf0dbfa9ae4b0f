# Optional GitOps: the Flux extension reconciles the region's path of the GitOps repository.
resource "azurerm_kubernetes_cluster_extension" "flux" {
  count = var.flux != null ? 1 : 0

  name           = "flux"
  cluster_id     = local.aks_cluster_id
  extension_type = "microsoft.flux"
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
  }

  kustomizations {
    name                       = "models"
    path                       = var.flux.path
    garbage_collection_enabled = true
    sync_interval_in_seconds   = 120
  }

  depends_on = [azurerm_kubernetes_cluster_extension.flux]
}
