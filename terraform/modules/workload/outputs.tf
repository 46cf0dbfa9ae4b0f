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
