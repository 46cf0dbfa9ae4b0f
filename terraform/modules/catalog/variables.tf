variable "environment" {
  description = "Short environment name, part of every resource name (dev, prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,3}$", var.environment))
    error_message = "environment must be 2-4 lower-case letters or digits (it is part of 24-character names)."
  }
}

variable "name_prefix" {
  description = "Organisation prefix that makes global names (storage, Key Vault, registry, Service Bus) unique."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,4}$", var.name_prefix))
    error_message = "name_prefix must be 2-5 lower-case letters or digits."
  }
}

variable "subscription_id" {
  description = "Subscription that holds the environment's resources."
  type        = string
}

variable "residency_zones" {
  description = "Residency zone name => description. A zone admits the regions whose zone (or also_in) names it."
  type        = map(string)

  validation {
    condition     = alltrue([for zone in keys(var.residency_zones) : can(regex("^[A-Z][A-Z0-9_-]{1,31}$", zone))])
    error_message = "Residency zone names are upper case, e.g. EU."
  }
}

variable "regions" {
  description = "The environment's regions; see the environment's variables.tf for the attribute meanings."
  type = map(object({
    zone     = string
    also_in  = optional(list(string), [])
    deployer = optional(string)
    approval = optional(object({
      default = object({
        approvers       = optional(list(string), [])
        approver_groups = optional(list(string), [])
        min_approvals   = optional(number, 2)
        expiry_hours    = optional(number, 72)
        require_sign_in = optional(bool, false)
      })
      by_risk_tier = optional(map(object({
        approvers       = optional(list(string), [])
        approver_groups = optional(list(string), [])
        min_approvals   = optional(number, 2)
        expiry_hours    = optional(number, 72)
        require_sign_in = optional(bool, false)
      })), {})
    }))
    gitops_path = optional(string)
    existing = optional(object({
      registry_id      = optional(string)
      aks_cluster_id   = optional(string)
      aml_workspace_id = optional(string)
      aml_compute      = optional(string)
      # The region's Azure Monitor workspace (managed Prometheus), if one exists already.
      monitor_workspace_id = optional(string)
    }), {})
  }))

  validation {
    condition     = alltrue([for name in keys(var.regions) : can(regex("^[a-z][a-z0-9]{2,40}$", name))])
    error_message = "Region keys are Azure region names, e.g. westeurope."
  }

  validation {
    condition = alltrue(flatten([
      for cfg in values(var.regions) : [for zone in concat([cfg.zone], cfg.also_in) : contains(keys(var.residency_zones), zone)]
    ]))
    error_message = "Every region's zone and also_in entries must be keys of residency_zones."
  }
}

variable "approval" {
  description = "Default approval policy for every region that does not set its own."
  type = object({
    default = object({
      approvers       = optional(list(string), [])
      approver_groups = optional(list(string), [])
      min_approvals   = optional(number, 2)
      expiry_hours    = optional(number, 72)
      require_sign_in = optional(bool, false)
    })
    by_risk_tier = optional(map(object({
      approvers       = optional(list(string), [])
      approver_groups = optional(list(string), [])
      min_approvals   = optional(number, 2)
      expiry_hours    = optional(number, 72)
      require_sign_in = optional(bool, false)
    })), {})
  })
}

variable "deployer" {
  description = "Default deployer: gitops (Flux reconciles the region's GitOps path) or kubernetes (direct apply)."
  type        = string
  default     = "gitops"

  validation {
    condition     = contains(["gitops", "kubernetes"], var.deployer)
    error_message = "deployer is gitops or kubernetes."
  }
}

variable "gitops" {
  description = "The GitOps repository; each region reconciles <path>/<region> unless it sets gitops_path. namespaces_path: the team namespaces (regions with deployer kubernetes)."
  type = object({
    repository_url  = string
    branch          = optional(string, "main")
    path            = optional(string, "regions")
    namespaces_path = optional(string, "namespaces")
  })
}

variable "model_teams" {
  description = "Model teams; each gets the namespace team-<team> on every cluster (aks.namespace_mode team). Empty: one namespace per model."
  type        = list(string)
  default     = []

  # team-<team> must be a Kubernetes namespace name (an RFC 1123 label of at most 63
  # characters) as it is, so the app's dns_label("team", team) keeps it unchanged
  # (shared/domain/deploy/k8s_names.py) and both name the same namespace.
  validation {
    condition     = alltrue([for team in var.model_teams : can(regex("^[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?$", team))])
    error_message = "model_teams entries are lower-case letters, digits and '-', at most 58 characters, alphanumeric at both ends."
  }

  validation {
    condition     = length(distinct(var.model_teams)) == length(var.model_teams)
    error_message = "model_teams has duplicates."
  }
}

variable "kubernetes_version" {
  description = "AKS minor version (major.minor) for clusters this environment creates."
  type        = string
  default     = "1.35"

  # The list modules/workload accepts (AKS standard support); kept equal by tests/terraform.
  validation {
    condition     = contains(["1.34", "1.35", "1.36"], var.kubernetes_version)
    error_message = "kubernetes_version must be an AKS minor version in standard support: 1.34, 1.35 or 1.36."
  }
}

variable "identity" {
  description = "Mail domains: owner_domains (owners mailed by Clearance), subaddress (separators per domain), default_subaddress."
  type = object({
    owner_domains      = optional(list(string), [])
    subaddress         = optional(map(string), {})
    default_subaddress = optional(string, "+")
  })
  default = {}
}

variable "analysis_endpoints" {
  description = "Per region, the Azure Monitor workspace's Prometheus query endpoint (from the workload module); a region without one gates on readiness only."
  type        = map(string)
  default     = {}
}

variable "analysis_policy" {
  description = "Metric-analysis checks per risk tier (shared/domain/analysis/checks.py AnalysisPolicy); the app's defaults when empty."
  type        = any
  default     = { default = {}, by_risk_tier = {} }
}

variable "supply_chain" {
  description = "Per region, the supply-chain policy (RegionSupplyChain: by_risk_tier -> trusted cosign keys, revoked keys, required attestations, reject or flag); regions not listed require none."
  type        = any
  default     = {}
}

variable "expiry" {
  description = "Expiry of trial deployments in every region (ExpiryPolicy: shadow_hours, canary_hours, non_production_hours, max_hours, notice_hours, on_expiry); the app's defaults when empty."
  type        = any
  default     = {}
}

variable "chargeback" {
  description = "Chargeback labels every region requires (ChargebackPolicy: require = [\"team\", \"cost_centre\"]); none when empty."
  type        = any
  default     = {}
}

variable "stages" {
  description = "Per region, its ordered stages: name, production, approval (default: the region's) or no_human_approval, name_prefix, bake_minutes, auto_promote, windows (time_zone, weekly, freezes). Each stage gets the GitOps path <region path>/<stage>. Regions not listed: one prod stage."
  type        = any
  default     = {}
}
