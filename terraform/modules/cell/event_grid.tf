# Event Grid system topics on the region's registry and AML workspace, delivering to this
# cell's functions with retries and dead-lettering into the cell's own storage. The topics'
# identities write the dead letters (shared keys are off on the account).
locals {
  dead_letter_container = azurerm_storage_container.this["dead_letter"].name
  retry_policy = {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }
}

resource "azurerm_eventgrid_system_topic" "registry" {
  name                = "egst-${var.names.function_app}-registry"
  location            = var.region
  resource_group_name = azurerm_resource_group.this.name
  source_resource_id  = var.registry_id
  topic_type          = "Microsoft.ContainerRegistry.Registries"
  tags                = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_eventgrid_system_topic" "aml" {
  name                = "egst-${var.names.function_app}-aml"
  location            = var.region
  resource_group_name = azurerm_resource_group.this.name
  source_resource_id  = var.aml_workspace_id
  topic_type          = "Microsoft.MachineLearningServices.Workspaces"
  tags                = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_eventgrid_system_topic_event_subscription" "image_pushed" {
  count = var.event_subscriptions_enabled ? 1 : 0

  name                 = "acr-image-pushed"
  system_topic         = azurerm_eventgrid_system_topic.registry.name
  resource_group_name  = azurerm_resource_group.this.name
  included_event_types = ["Microsoft.ContainerRegistry.ImagePushed"]

  # Pushes that land on a geo-replica in another region belong to that region's cell.
  advanced_filter {
    string_in {
      key    = "data.location"
      values = [var.region]
    }
  }

  azure_function_endpoint {
    function_id          = "${azurerm_function_app_flex_consumption.this.id}/functions/acr_image_pushed"
    max_events_per_batch = 1
  }

  retry_policy {
    max_delivery_attempts = local.retry_policy.max_delivery_attempts
    event_time_to_live    = local.retry_policy.event_time_to_live
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.this.id
    storage_blob_container_name = local.dead_letter_container
  }

  depends_on = [azurerm_role_assignment.registry_topic_dead_letter]
}

resource "azurerm_eventgrid_system_topic_event_subscription" "model_registered" {
  count = var.event_subscriptions_enabled ? 1 : 0

  name                 = "aml-model-registered"
  system_topic         = azurerm_eventgrid_system_topic.aml.name
  resource_group_name  = azurerm_resource_group.this.name
  included_event_types = ["Microsoft.MachineLearningServices.ModelRegistered"]

  azure_function_endpoint {
    function_id          = "${azurerm_function_app_flex_consumption.this.id}/functions/aml_model_registered"
    max_events_per_batch = 1
  }

  retry_policy {
    max_delivery_attempts = local.retry_policy.max_delivery_attempts
    event_time_to_live    = local.retry_policy.event_time_to_live
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.this.id
    storage_blob_container_name = local.dead_letter_container
  }

  depends_on = [azurerm_role_assignment.aml_topic_dead_letter]
}
