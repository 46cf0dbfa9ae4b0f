variable "environment" {
  description = "Short environment name (part of every resource name)."
  type        = string
}

variable "name_prefix" {
  description = "Organisation prefix that makes global resource names unique."
  type        = string
}

variable "region" {
  description = "The one region this state manages; its backend key is <environment>/<region>.tfstate."
  type        = string

  validation {
    condition     = contains(keys(var.regions), var.region)
    error_message = "region must be one of the keys of regions."
  }
}

variable "residency_zones" {
  description = "Residency zone => description (the catalog's residency_zones, regions derived from regions)."
  type        = map(string)
}

variable "regions" {
  description = <<-EOT
    Every region of the environment, one entry each; adding a region is adding one entry.
    Attributes (typed in modules/catalog/variables.tf):
      zone        residency zone of the region (a key of residency_zones)
      also_in     further zones that admit the region (e.g. ["EU"] for a national zone's region)
      deployer    gitops | kubernetes (default: var.deployer)
      approval    approval policy overriding var.approval for this region
      gitops_path path in the GitOps repository (default: <gitops.path>/<region>)
      existing    { registry_id, aks_cluster_id, aml_workspace_id, aml_compute } to reference
                  existing serving resources instead of creating them
    The order of the entries is the rollout order of the pipeline (azure-pipelines.yml).
  EOT
  type        = any
}

variable "approval" {
  description = "Default approval policy of every region (RegionApproval in shared/domain/catalog.py)."
  type        = any
}

variable "deployer" {
  description = "Default deployer: gitops or kubernetes."
  type        = string
  default     = "gitops"
}

variable "gitops" {
  description = "GitOps repository: { repository_url, branch, path }."
  type        = any
}

variable "kubernetes_version" {
  description = "AKS minor version."
  type        = string
  default     = "1.30"
}

variable "aks_admin_group_object_ids" {
  description = "Entra ID groups with cluster-admin on every AKS cluster (break-glass)."
  type        = list(string)
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the AKS API servers."
  type        = list(string)
}

variable "easy_auth_client_id" {
  description = "Client id of the Entra ID app registration used by Easy Auth on every cell."
  type        = string
}

variable "mail" {
  description = "Azure Communication Services email: { sender, acs_endpoint, platform_email }."
  type = object({
    sender         = string
    acs_endpoint   = string
    platform_email = string
  })
}

variable "anonymous_paths" {
  description = "HTTP paths served without sign-in; every other route (approval, audit) needs Entra ID."
  type        = list(string)
  default     = ["/api/health", "/runtime/webhooks/eventgrid"]
}

variable "model_namespaces" {
  description = "Kubernetes namespaces each cell may write models to on its own cluster."
  type        = list(string)
  default     = ["models"]
}

variable "event_subscriptions_enabled" {
  description = "false only for the first apply of a new region, before its function code is deployed."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
