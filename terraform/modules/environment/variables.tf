variable "region" {
  description = "The one region this state manages; its backend key is <environment>/<region>.tfstate."
  type        = string

  validation {
    condition     = contains(keys(var.environment.regions), var.region)
    error_message = "region must be one of the keys of environment.regions."
  }
}

variable "event_subscriptions_enabled" {
  description = "false only for the first apply of a new region, before its function code is deployed."
  type        = bool
  default     = true
}

variable "environment" {
  description = <<-EOT
    Everything that describes one environment (the `environment` object of its terraform.tfvars):
      name                            short environment name (part of every resource name)
      name_prefix                     organisation prefix that makes global resource names unique
      residency_zones                 zone => description (the catalog's residency_zones)
      regions                         every region of the environment, one entry each; adding
                                      a region is adding one entry. Attributes (typed in
                                      modules/catalog/variables.tf):
        zone        residency zone of the region (a key of residency_zones)
        also_in     further zones that admit the region (e.g. ["EU"] for a national zone's region)
        deployer    gitops | kubernetes (default: deployer)
        approval    approval policy overriding approval for this region
        gitops_path path in the GitOps repository (default: <gitops.path>/<region>)
        existing    { registry_id, aks_cluster_id, aml_workspace_id, aml_compute,
                    monitor_workspace_id } to reference existing serving resources
                    instead of creating them
                                      The order of the entries is the rollout order of the
                                      pipeline (azure-pipelines.yml).
      approval                        default approval policy of every region
                                      (RegionApproval in shared/domain/catalog.py)
      deployer                        default deployer: gitops or kubernetes
      gitops                          GitOps repository: { repository_url, branch, path, namespaces_path }
      kubernetes_version              AKS minor version
      aks_admin_group_object_ids      Entra ID groups with cluster-admin on every AKS cluster (break-glass)
      api_server_authorized_ip_ranges CIDRs allowed to reach the AKS API servers
      easy_auth_client_id             client id of the Entra ID app registration used by Easy Auth
      mail                            Azure Communication Services email: { sender, acs_endpoint,
                                      platform_email, acs_resource_id (the ACS resource: the cells'
                                      send-mail role is assigned on it) }
      anonymous_paths                 HTTP paths served without sign-in; every other route needs Entra ID
      model_teams                     model teams: each gets the namespace team-<team> on every cluster
                                      (aks.namespace_mode team), the only namespaces a cell may write to;
                                      empty (default): one namespace per model
      auditors_group_object_id        Entra ID group of auditors (optional): lineage table and blob
                                      read access and the checkpoint key's public half, in every cell
      identity                        mail domains: { owner_domains (owners Clearance may mail),
                                      subaddress (separators per domain), default_subaddress }
      supply_chain                    image signatures every region checks (RegionSupplyChain):
                                      { default, by_risk_tier } of { required, keys = [{ key_id,
                                      public_key_pem, key_vault_key }], revoked, on_failure, ... };
                                      the keys are the CI pipeline's (docs/operators.md)
      expiry                          expiry of shadow/canary phases and non-production stages
                                      (ExpiryPolicy, docs/region-catalog.md); app defaults if empty
      chargeback                      { require = ["team", "cost_centre"] }: labels every region
                                      requires at intake (ChargebackPolicy); none if empty
      ado_organizations               Azure DevOps organisation URLs whose environment checks may
                                      call the cells (docs/azure-devops.md); empty: none
      tags                            extra tags for every resource
  EOT
  type = object({
    name                            = string
    name_prefix                     = string
    residency_zones                 = map(string)
    regions                         = any
    approval                        = any
    deployer                        = optional(string, "gitops")
    gitops                          = any
    kubernetes_version              = optional(string, "1.35")
    aks_admin_group_object_ids      = list(string)
    api_server_authorized_ip_ranges = list(string)
    easy_auth_client_id             = string
    mail = object({
      sender          = string
      acs_endpoint    = string
      platform_email  = string
      acs_resource_id = optional(string)
    })
    anonymous_paths          = optional(list(string), ["/api/health", "/runtime/webhooks/eventgrid"])
    model_teams              = optional(list(string), [])
    auditors_group_object_id = optional(string)
    ado_organizations        = optional(list(string), [])
    expiry                   = optional(any, {})
    chargeback               = optional(any, {})
    supply_chain             = optional(any, {})
    stages                   = optional(any, [])
    identity = optional(object({
      owner_domains      = optional(list(string), [])
      subaddress         = optional(map(string), {})
      default_subaddress = optional(string, "+")
    }), {})
    tags = optional(map(string), {})
  })
}
