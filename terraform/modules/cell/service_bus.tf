# The cell's Service Bus namespace and its three queues (names: shared/queues.py).
# max_delivery_count must equal host.json extensions.queues.maxDequeueCount, the limit the
# local bus applies, so a message dead-letters after the same number of tries everywhere.
locals {
  queues             = ["approval-requests", "approval-expirations", "deployment-requests"]
  max_delivery_count = 5
}

resource "azurerm_servicebus_namespace" "this" {
  name                          = var.names.service_bus
  location                      = var.region
  resource_group_name           = azurerm_resource_group.this.name
  sku                           = "Standard"
  local_auth_enabled            = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_servicebus_queue" "this" {
  for_each = toset(local.queues)

  name                                    = each.value
  namespace_id                            = azurerm_servicebus_namespace.this.id
  max_delivery_count                      = local.max_delivery_count
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = "PT1H"
  dead_lettering_on_message_expiration    = true
  lock_duration                           = "PT5M"
  default_message_ttl                     = "P35D"
  max_size_in_megabytes                   = 1024
  partitioning_enabled                    = false
}
