output "names" {
  description = "Region => the names of that region's resources."
  value       = local.names
}

output "entries" {
  description = "Region => its RegionEntry, as the cell's own catalog_entry output must also render it."
  value       = local.entries
}

output "document" {
  description = "The region catalog (shared/domain/catalog.py:RegionCatalog)."
  value       = local.document
}

output "json" {
  description = "The region catalog as JSON, the value of CLEARANCE_CATALOG_JSON."
  value       = jsonencode(local.document)
}

output "regions" {
  description = "The regions map with every optional attribute defaulted."
  value       = var.regions
}

output "team_namespaces" {
  description = "The Kubernetes namespace of every model team (team-<team>), on every cluster of the environment."
  value       = local.team_namespaces
}

output "team_namespaces_manifest" {
  description = "The team namespaces as Kubernetes YAML, labelled like the app's own Namespace manifests: commit it to <gitops.namespaces_path>/namespaces.yaml (docs/operators.md)."
  value       = join("", [for namespace in local.team_namespace_manifests : "---\n${yamlencode(namespace)}"])
}

output "team_namespaces_source" {
  description = "Where Flux reads the team namespaces from (regions with deployer kubernetes); null without model teams."
  value = length(var.model_teams) == 0 ? null : {
    repository_url = var.gitops.repository_url
    branch         = var.gitops.branch
    path           = var.gitops.namespaces_path
  }
}
