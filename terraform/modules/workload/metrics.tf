# Metric analysis (issue 16): the region's Azure Monitor workspace (managed Prometheus), created
# here unless the region names an existing one (existing.monitor_workspace_id), and the
# managed-Prometheus wiring of a cluster this module creates: the metrics add-on
# (monitor_metrics on the cluster, aks.tf) sends through a data collection endpoint and rule to
# the workspace. The cell reads it through the workspace's query endpoint (PromQL) with its
# identity (Monitoring Data Reader, modules/cell/roles.tf).
#
# A referenced (existing) cluster is not changed here: enable its add-on once with
#   az aks update -g <rg> -n <cluster> --enable-azure-monitor-metrics \
#     --azure-monitor-workspace-resource-id <workspace id>
# (docs/operators.md, "Metric analysis"), which creates the same endpoint, rule and association.
resource "azurerm_monitor_workspace" "this" {
  count = local.create_monitor ? 1 : 0

  name                = var.names.monitor_workspace
  location            = var.region
  resource_group_name = azurerm_resource_group.serving[0].name
  tags                = var.tags
}

data "azurerm_monitor_workspace" "existing" {
  count = local.create_monitor ? 0 : 1

  name                = split("/", var.existing.monitor_workspace_id)[8]
  resource_group_name = split("/", var.existing.monitor_workspace_id)[4]
}

locals {
  monitor_workspace_id      = local.create_monitor ? azurerm_monitor_workspace.this[0].id : var.existing.monitor_workspace_id
  prometheus_query_endpoint = local.create_monitor ? azurerm_monitor_workspace.this[0].query_endpoint : data.azurerm_monitor_workspace.existing[0].query_endpoint
  prometheus_destination    = "monitor-workspace"
  prometheus_stream         = "Microsoft-PrometheusMetrics"
}

resource "azurerm_monitor_data_collection_endpoint" "prometheus" {
  count = local.create_aks ? 1 : 0

  name                = "MSProm-${var.names.aks_cluster}"
  location            = var.region
  resource_group_name = azurerm_resource_group.serving[0].name
  kind                = "Linux"
  tags                = var.tags
}

resource "azurerm_monitor_data_collection_rule" "prometheus" {
  count = local.create_aks ? 1 : 0

  name                        = "MSProm-${var.names.aks_cluster}"
  location                    = var.region
  resource_group_name         = azurerm_resource_group.serving[0].name
  data_collection_endpoint_id = azurerm_monitor_data_collection_endpoint.prometheus[0].id
  kind                        = "Linux"
  description                 = "Managed Prometheus of the region's AKS cluster into its Azure Monitor workspace."
  tags                        = var.tags

  destinations {
    monitor_account {
      monitor_account_id = local.monitor_workspace_id
      name               = local.prometheus_destination
    }
  }

  data_flow {
    streams      = [local.prometheus_stream]
    destinations = [local.prometheus_destination]
  }

  data_sources {
    prometheus_forwarder {
      name    = "PrometheusDataSource"
      streams = [local.prometheus_stream]
    }
  }
}

# Deleting this association stops metric collection for the cluster.
resource "azurerm_monitor_data_collection_rule_association" "prometheus" {
  count = local.create_aks ? 1 : 0

  name                    = "MSProm-${var.names.aks_cluster}"
  target_resource_id      = azurerm_kubernetes_cluster.this[0].id
  data_collection_rule_id = azurerm_monitor_data_collection_rule.prometheus[0].id
  description             = "Managed Prometheus of this cluster (modules/workload/metrics.tf)."
}
