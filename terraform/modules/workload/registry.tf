# The region's container registry. Premium: geo-replicas (opt-in, same residency zone),
# zone redundancy, dedicated data endpoints, retention of untagged manifests. No content trust
# (trust_policy_enabled): Docker Content Trust is deprecated in ACR and the azurerm argument
# with it; Clearance's approval, not a signature on the tag, gates what is served.
resource "azurerm_container_registry" "this" {
  count = local.create_registry ? 1 : 0

  name                          = var.names.registry
  location                      = var.region
  resource_group_name           = azurerm_resource_group.serving[0].name
  sku                           = "Premium"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  data_endpoint_enabled         = true
  zone_redundancy_enabled       = true
  public_network_access_enabled = true
  retention_policy_in_days      = 30
  quarantine_policy_enabled     = false
  tags                          = var.tags

  dynamic "georeplications" {
    for_each = var.registry_replica_locations
    content {
      location                = georeplications.value
      zone_redundancy_enabled = true
      tags                    = var.tags
    }
  }
}
