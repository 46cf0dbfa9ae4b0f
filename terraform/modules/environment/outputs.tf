output "region_catalog" {
  description = "The region catalog of the whole environment (CLEARANCE_CATALOG_JSON of every cell)."
  value       = module.catalog.document
}

output "cell" {
  description = "The managed region's cell: its deployed catalog entry and deployment targets."
  value = {
    for region, cell in module.cell : region => {
      catalog_entry         = cell.catalog_entry
      function_app_name     = cell.function_app_name
      resource_group_name   = cell.resource_group_name
      dead_letter_container = cell.dead_letter_container
      prometheus_query_url  = cell.prometheus_query_endpoint
      log_analytics_id      = cell.log_analytics_workspace_id
      flux_identity         = module.workload[region].flux_identity
    }
  }
}

output "team_namespaces_manifest" {
  description = "The model teams' namespaces as Kubernetes YAML: commit to <gitops.namespaces_path>/namespaces.yaml (docs/operators.md, \"Model team namespaces\")."
  value       = module.catalog.team_namespaces_manifest
}
