resource "azurerm_resource_group" "this" {
  name     = var.names.resource_group
  location = var.region
  tags     = var.tags
}
