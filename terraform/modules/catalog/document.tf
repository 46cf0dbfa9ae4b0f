# The region catalog, shaped exactly like shared/domain/catalog.py:RegionCatalog.
# tests/terraform/test_catalog.py checks every key here against the pydantic model.
locals {
  # Team namespaces (issue 20): with model teams, every model of a team runs in team-<team>,
  # a namespace created beforehand (the kubernetes driver does not apply cluster-scoped
  # Namespace objects; docs/operators.md, "Model team namespaces"); without, one namespace
  # per model.
  namespace_mode  = length(var.model_teams) > 0 ? "team" : "model"
  team_namespaces = [for team in var.model_teams : "team-${team}"]
  # The same labels as the app's Namespace manifest (shared/domain/deploy/manifests/objects.py).
  team_namespace_manifests = [
    for namespace in local.team_namespaces : {
      apiVersion = "v1"
      kind       = "Namespace"
      metadata = {
        name = namespace
        labels = {
          "app.kubernetes.io/managed-by"               = "clearance"
          "pod-security.kubernetes.io/enforce"         = "restricted"
          "pod-security.kubernetes.io/enforce-version" = "latest"
        }
      }
    }
  ]

  # ARM ids split on "/": [2] subscription, [4] resource group, [8] resource name.
  existing = { for region, cfg in var.regions : region => cfg.existing }

  registry = {
    for region, cfg in var.regions : region => (
      local.existing[region].registry_id != null ? {
        login_server = "${lower(split("/", local.existing[region].registry_id)[8])}.azurecr.io"
        resource_id  = local.existing[region].registry_id
        } : {
        login_server = "${local.names[region].registry}.azurecr.io"
        resource_id  = "/subscriptions/${var.subscription_id}/resourceGroups/${local.names[region].serving_resource_group}/providers/Microsoft.ContainerRegistry/registries/${local.names[region].registry}"
      }
    )
  }

  aks = {
    for region, cfg in var.regions : region => (
      local.existing[region].aks_cluster_id != null ? {
        cluster_name       = split("/", local.existing[region].aks_cluster_id)[8]
        resource_group     = split("/", local.existing[region].aks_cluster_id)[4]
        subscription_id    = split("/", local.existing[region].aks_cluster_id)[2]
        api_server_url     = null
        kubernetes_version = var.kubernetes_version
        namespace_mode     = local.namespace_mode
        } : {
        cluster_name       = local.names[region].aks_cluster
        resource_group     = local.names[region].serving_resource_group
        subscription_id    = var.subscription_id
        api_server_url     = null
        kubernetes_version = var.kubernetes_version
        namespace_mode     = local.namespace_mode
      }
    )
  }

  aml = {
    for region, cfg in var.regions : region => (
      local.existing[region].aml_workspace_id != null ? {
        subscription_id = split("/", local.existing[region].aml_workspace_id)[2]
        resource_group  = split("/", local.existing[region].aml_workspace_id)[4]
        workspace       = split("/", local.existing[region].aml_workspace_id)[8]
        compute         = coalesce(local.existing[region].aml_compute, local.names[region].aml_compute)
        } : {
        subscription_id = var.subscription_id
        resource_group  = local.names[region].serving_resource_group
        workspace       = local.names[region].aml_workspace
        compute         = local.names[region].aml_compute
      }
    )
  }

  entries = {
    for region, cfg in var.regions : region => {
      name             = region
      residency_zone   = cfg.zone
      function_app_url = "https://${local.names[region].function_app}.azurewebsites.net"
      registry         = local.registry[region]
      storage = {
        account_name = local.names[region].storage_account
      }
      service_bus = {
        namespace = "${local.names[region].service_bus}.servicebus.windows.net"
      }
      approval = cfg.approval != null ? cfg.approval : var.approval
      deployer = coalesce(cfg.deployer, var.deployer)
      aks      = local.aks[region]
      aml      = local.aml[region]
      gitops = {
        repository_url = var.gitops.repository_url
        branch         = var.gitops.branch
        path           = coalesce(cfg.gitops_path, "${var.gitops.path}/${region}")
      }
      # Metric analysis of gated rollout steps on the region's Azure Monitor workspace
      # (managed Prometheus, queried with the cell identity's Entra token); null until the
      # workspace exists: gates then check readiness only.
      # Signatures and attestations per risk tier (shared/domain/supply_chain/policy.py); a
      # region not listed requires none (trusted keys: the signing pipeline's public keys).
      supply_chain = lookup(var.supply_chain, region, {})
      # Cost hygiene (shared/domain/deploy/expiry.py, chargeback.py): expiry of shadow/canary
      # phases and non-production stages, and the chargeback labels every region requires.
      expiry     = var.expiry
      chargeback = var.chargeback
      # Ordered stages (shared/domain/catalog.py Stage); none: one implicit "prod" stage on
      # the region's own targets. Each stage reconciles its own GitOps path
      # <region path>/<stage>; its approvals default to the region's (no_human_approval: none).
      stages = [for st in lookup(var.stages, region, []) : {
        name       = st.name
        production = try(st.production, null)
        approval = try(st.no_human_approval, false) ? null : try(
          st.approval, cfg.approval != null ? cfg.approval : var.approval
        )
        gitops = {
          repository_url = var.gitops.repository_url
          branch         = var.gitops.branch
          path           = "${coalesce(cfg.gitops_path, "${var.gitops.path}/${region}")}/${st.name}"
        }
        name_prefix  = try(st.name_prefix, null)
        bake_minutes = try(st.bake_minutes, 60)
        auto_promote = try(st.auto_promote, false)
        windows      = try(st.windows, {})
      }]
      analysis = lookup(var.analysis_endpoints, region, null) == null ? null : {
        provider     = "azure-monitor-prometheus"
        endpoint     = var.analysis_endpoints[region]
        default      = var.analysis_policy.default
        by_risk_tier = var.analysis_policy.by_risk_tier
      }
    }
  }

  residency_zones = {
    for zone, description in var.residency_zones : zone => {
      description = description
      regions     = [for region, cfg in var.regions : region if cfg.zone == zone || contains(cfg.also_in, zone)]
    }
  }

  document = {
    schema_version  = 1
    residency_zones = local.residency_zones
    regions         = [for region in keys(var.regions) : local.entries[region]]
    # Canonical identities and the owner-domain allow-list (shared/domain/identity.py): owners
    # outside owner_domains are never mailed (no relay); subaddress lists each domain's
    # sub-address separators ("+" when not listed).
    identity = {
      owner_domains      = var.identity.owner_domains
      subaddress         = var.identity.subaddress
      default_subaddress = var.identity.default_subaddress
    }
  }
}
