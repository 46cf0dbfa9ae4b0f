variable "region" {
  description = "The Azure region this serving side lives in. Every resource is created here."
  type        = string
}

variable "names" {
  description = "Resource names for this region (module catalog, output names)."
  type = object({
    serving_resource_group = string
    registry               = string
    aks_cluster            = string
    aml_workspace          = string
    aml_compute            = string
    aml_storage_account    = string
    aml_key_vault          = string
    application_insights   = string
    log_analytics          = string
    monitor_workspace      = string
  })
}

variable "existing" {
  description = "Ids of resources that already exist and must be referenced instead of created. null creates it."
  type = object({
    registry_id      = optional(string)
    aks_cluster_id   = optional(string)
    aml_workspace_id = optional(string)
    aml_compute      = optional(string)
    # An Azure Monitor workspace of the region to use instead of creating one (metrics.tf).
    monitor_workspace_id = optional(string)
  })
  default = {}
}

variable "tenant_id" {
  description = "Entra ID tenant for AKS Azure RBAC."
  type        = string
}

variable "kubernetes_version" {
  description = "AKS minor version (major.minor); patch upgrades are automatic."
  type        = string

  # AKS minor versions in standard support (az aks get-versions -l <region>). Versions past
  # their AKS end of life are refused at create without an LTS (Premium tier) plan; update
  # this list, and modules/catalog's, when AKS retires or adds a minor version.
  validation {
    condition     = contains(["1.34", "1.35", "1.36"], var.kubernetes_version)
    error_message = "kubernetes_version must be an AKS minor version in standard support: 1.34, 1.35 or 1.36."
  }
}

variable "aks_admin_group_object_ids" {
  description = "Entra ID groups that are cluster admins (break-glass; day-to-day access is Azure RBAC)."
  type        = list(string)
}

variable "api_server_authorized_ip_ranges" {
  description = "CIDRs allowed to reach the AKS API server (CI agents, operators, the Functions' outbound range)."
  type        = list(string)
}

variable "system_node_vm_size" {
  description = "VM size of the system node pool (must support ephemeral OS disks)."
  type        = string
  default     = "Standard_D4ds_v5"
}

variable "model_node_vm_size" {
  description = "VM size of the node pool that serves models."
  type        = string
  default     = "Standard_D8ds_v5"
}

variable "model_node_count" {
  description = "Minimum and maximum node count of the model node pool (autoscaled)."
  type        = object({ min = number, max = number })
  default     = { min = 1, max = 5 }
}

variable "inference_tls" {
  description = "TLS of the AzureML inference router: { cname, certificate_pem, private_key_pem }. null: plain HTTP on a ClusterIP router, reachable only inside the cluster."
  type = object({
    cname           = string
    certificate_pem = string
    private_key_pem = string
  })
  default   = null
  sensitive = true
}

variable "registry_replica_locations" {
  description = "Extra regions the registry geo-replicates to. Keep them inside the region's residency zone."
  type        = list(string)
  default     = []
}

variable "flux" {
  description = "Flux GitOps extension: reconciles <path> of the repository into the cluster. null disables it."
  type = object({
    repository_url = string
    branch         = string
    path           = string
  })
  default = null
}

variable "team_namespaces" {
  description = "Where Flux reads the model teams' namespaces from (regions with deployer kubernetes and model teams, flux.tf). null: none."
  type = object({
    repository_url = string
    branch         = string
    path           = string
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
