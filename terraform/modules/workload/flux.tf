# Optional GitOps: the Flux extension reconciles the region's path of the GitOps repository
# (regions with deployer gitops), and the model teams' namespaces (regions with deployer
# kubernetes and model teams; see the end of this file).
#
# The repository is a private Azure DevOps repo. Flux's source-controller authenticates with
# workload identity (git_repository.provider = "Azure"): a user-assigned identity federated
# with the source-controller service account, so no PAT or SSH key exists anywhere, in state
# or in the cluster. First apply: add that identity (output flux_identity) to the Azure DevOps
# organisation and give it Reader on the repository (docs/operators.md, "First apply").
resource "azurerm_user_assigned_identity" "flux" {
  count = local.flux_installed ? 1 : 0

  name                = "id-${var.names.aks_cluster}-flux"
  location            = var.region
  resource_group_name = azurerm_resource_group.serving[0].name
  tags                = var.tags
}

locals {
  flux_installed = var.flux != null || var.team_namespaces != null
}

data "azurerm_kubernetes_cluster" "existing" {
  count = local.flux_installed && !local.create_aks ? 1 : 0

  name                = split("/", var.existing.aks_cluster_id)[8]
  resource_group_name = split("/", var.existing.aks_cluster_id)[4]
}

resource "azurerm_federated_identity_credential" "flux" {
  count = local.flux_installed ? 1 : 0

  name                = "flux-source-controller"
  resource_group_name = azurerm_resource_group.serving[0].name
  parent_id           = azurerm_user_assigned_identity.flux[0].id
  issuer              = local.create_aks ? azurerm_kubernetes_cluster.this[0].oidc_issuer_url : data.azurerm_kubernetes_cluster.existing[0].oidc_issuer_url
  subject             = "system:serviceaccount:flux-system:source-controller"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_kubernetes_cluster_extension" "flux" {
  count = local.flux_installed ? 1 : 0

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

# Model team namespaces (issue 20) where the kubernetes driver deploys: it applies namespaced
# objects only, never a cluster-scoped Namespace, so each team's namespace (team-<team>) must
# exist first. The azurerm provider cannot create Kubernetes objects; the kubernetes provider
# would need a second root with cluster credentials and API-server reach from the pipeline,
# and an AKS run command is not idempotent. Flux applies the namespaces from the GitOps
# repository instead: <gitops.namespaces_path>/namespaces.yaml, rendered by Terraform (output
# team_namespaces_manifest of modules/catalog, docs/operators.md "Model team namespaces").
# No garbage collection: a namespace removed from the file is not deleted from the cluster
# (that would delete every model in it); delete it by hand once it is empty.
# (Regions with deployer gitops need none of this: the GitOps deployer commits each
# namespace's own manifest next to its models, reconciled by the models kustomization.)
resource "azurerm_kubernetes_flux_configuration" "namespaces" {
  count = var.team_namespaces != null ? 1 : 0

  name       = "clearance-namespaces"
  cluster_id = local.aks_cluster_id
  namespace  = "flux-system"
  scope      = "cluster"

  git_repository {
    url             = var.team_namespaces.repository_url
    reference_type  = "branch"
    reference_value = var.team_namespaces.branch
    provider        = "Azure"
  }

  kustomizations {
    name                       = "namespaces"
    path                       = var.team_namespaces.path
    garbage_collection_enabled = false
    sync_interval_in_seconds   = 300
  }

  depends_on = [azurerm_kubernetes_cluster_extension.flux, azurerm_federated_identity_credential.flux]
}
