# region_catalog: the catalog document; cell: the managed region's cell (pipeline, docs/operators.md).
output "region_catalog" { value = module.environment.region_catalog }
output "cell" { value = module.environment.cell }
