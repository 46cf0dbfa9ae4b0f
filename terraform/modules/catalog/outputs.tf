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
