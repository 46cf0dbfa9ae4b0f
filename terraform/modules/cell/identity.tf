# The cell identity: the user-assigned identity the Function App's host and code use for
# every Azure call (function_app.tf, roles.tf). User-assigned, so that it and its role
# assignments exist before the app does.
resource "azurerm_user_assigned_identity" "cell" {
  name                = "id-${var.names.function_app}"
  location            = var.region
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}
