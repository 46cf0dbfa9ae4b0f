# One environment: the catalog of all its regions, and the cell + serving side of the one
# region this state manages (var.region). Called by every root under terraform/environments,
# which hold only what differs between environments (backend, provider configuration,
# terraform.tfvars). See terraform/README.md for why the state is split per region and why
# the catalog is computed rather than collected from the cells.
data "azurerm_client_config" "current" {}

locals {
  env   = var.environment
  cells = { for name, cfg in module.catalog.regions : name => cfg if name == var.region }
  tags  = merge(local.env.tags, { system = "clearance", environment = local.env.name })
}

module "catalog" {
  source = "../catalog"

  environment        = local.env.name
  name_prefix        = local.env.name_prefix
  subscription_id    = data.azurerm_client_config.current.subscription_id
  residency_zones    = local.env.residency_zones
  regions            = local.env.regions
  approval           = local.env.approval
  deployer           = local.env.deployer
  gitops             = local.env.gitops
  kubernetes_version = local.env.kubernetes_version
  model_teams        = local.env.model_teams
  identity           = local.env.identity
  supply_chain       = { for region in keys(local.env.regions) : region => local.env.supply_chain }
  expiry             = local.env.expiry
  chargeback         = local.env.chargeback
  stages             = { for region in keys(local.env.regions) : region => local.env.stages }
  analysis_endpoints = { for region, w in module.workload : region => w.prometheus_query_endpoint }
}

module "workload" {
  source   = "../workload"
  for_each = local.cells

  region                          = each.key
  names                           = module.catalog.names[each.key]
  existing                        = each.value.existing
  tenant_id                       = data.azurerm_client_config.current.tenant_id
  kubernetes_version              = local.env.kubernetes_version
  aks_admin_group_object_ids      = local.env.aks_admin_group_object_ids
  api_server_authorized_ip_ranges = local.env.api_server_authorized_ip_ranges
  flux                            = module.catalog.entries[each.key].deployer == "gitops" ? module.catalog.entries[each.key].gitops : null
  team_namespaces                 = module.catalog.entries[each.key].deployer == "kubernetes" ? module.catalog.team_namespaces_source : null
  tags                            = merge(local.tags, { region = each.key })
}

module "cell" {
  source   = "../cell"
  for_each = local.cells

  region                      = each.key
  names                       = module.catalog.names[each.key]
  catalog_entry               = module.catalog.entries[each.key]
  catalog_json                = module.catalog.json
  registry_id                 = module.workload[each.key].registry_id
  aks_cluster_id              = module.workload[each.key].aks_cluster_id
  aml_workspace_id            = module.workload[each.key].aml_workspace_id
  monitor_workspace_id        = module.workload[each.key].monitor_workspace_id
  prometheus_query_endpoint   = module.workload[each.key].prometheus_query_endpoint
  model_namespaces            = module.catalog.team_namespaces
  tenant_id                   = data.azurerm_client_config.current.tenant_id
  deployer_object_id          = data.azurerm_client_config.current.object_id
  easy_auth_client_id         = local.env.easy_auth_client_id
  anonymous_paths             = local.env.anonymous_paths
  mail                        = local.env.mail
  event_subscriptions_enabled = var.event_subscriptions_enabled
  auditors_group_object_id    = local.env.auditors_group_object_id
  ado_organizations           = local.env.ado_organizations
  tags                        = merge(local.tags, { region = each.key })
}

# After apply: what the cell observes on its resources must be what the catalog advertises.
check "cells_match_catalog" {
  assert {
    condition = alltrue([
      for region, cell in module.cell : jsonencode(cell.catalog_entry) == jsonencode(module.catalog.entries[region])
    ])
    error_message = "A cell's deployed catalog entry differs from the region catalog; compare output cell vs region_catalog."
  }
}

# The kubernetes driver applies namespaced objects only: without model teams there is no
# namespace it may deploy into (and no RBAC Writer scope), so such a region cannot deploy.
check "kubernetes_regions_have_model_teams" {
  assert {
    condition     = length(local.env.model_teams) > 0 || alltrue([for entry in values(module.catalog.entries) : entry.deployer != "kubernetes"])
    error_message = "A region deploys with the kubernetes driver but environment.model_teams is empty: set model_teams (docs/operators.md, \"Model team namespaces\")."
  }
}
