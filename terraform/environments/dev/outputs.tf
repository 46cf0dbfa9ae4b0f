# region_catalog: the catalog document; cell: the managed region's cell (pipeline, docs/operators.md);
# team_namespaces_manifest: the model teams' namespaces for the GitOps repository.
output "region_catalog" { value = module.environment.region_catalog }
output "cell" { value = module.environment.cell }
output "team_namespaces_manifest" { value = module.environment.team_namespaces_manifest }
