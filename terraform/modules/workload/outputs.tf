output "registry_id" {
  description = "The region's container registry (created here or referenced)."
  value       = local.registry_id
}

output "aks_cluster_id" {
  description = "The region's AKS cluster (created here or referenced)."
  value       = local.aks_cluster_id
}

output "aml_workspace_id" {
  description = "The region's AML workspace (created here or referenced)."
  value       = local.aml_workspace_id
}

output "flux_identity" {
  description = "The identity Flux reads the GitOps repository with (add it to Azure DevOps, docs/operators.md); null without GitOps."
  value = !local.flux_installed ? null : {
    client_id    = azurerm_user_assigned_identity.flux[0].client_id
    principal_id = azurerm_user_assigned_identity.flux[0].principal_id
  }
}

output "monitor_workspace_id" {
  description = "The region's Azure Monitor workspace (created here or referenced)."
  value       = local.monitor_workspace_id
}

output "prometheus_query_endpoint" {
  description = "PromQL query endpoint of the region's Azure Monitor workspace."
  value       = local.prometheus_query_endpoint
}
