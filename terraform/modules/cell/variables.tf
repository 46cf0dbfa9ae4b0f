variable "region" {
  description = "The Azure region of this cell. Every resource of the cell is created here."
  type        = string
}

variable "names" {
  description = "Resource names for this cell (module catalog, output names)."
  type = object({
    resource_group       = string
    function_app         = string
    service_plan         = string
    service_bus          = string
    application_insights = string
    log_analytics        = string
    storage_account      = string
    key_vault            = string
  })
}

variable "catalog_entry" {
  description = "This region's entry of the region catalog as the environment computed it (module catalog)."
  type        = any
}

variable "catalog_json" {
  description = "The whole region catalog as JSON: the value of CLEARANCE_CATALOG_JSON."
  type        = string
}

variable "registry_id" {
  description = "The region's container registry: source of ImagePushed events, AcrPull scope."
  type        = string
}

variable "aks_cluster_id" {
  description = "The region's AKS cluster: scope of the namespace-level RBAC Writer assignments."
  type        = string
}

variable "aml_workspace_id" {
  description = "The region's AML workspace: source of ModelRegistered events, Data Scientist scope."
  type        = string
}

variable "monitor_workspace_id" {
  description = "The region's Azure Monitor workspace (managed Prometheus): Monitoring Data Reader scope."
  type        = string
}

variable "prometheus_query_endpoint" {
  description = "PromQL query endpoint of the region's Azure Monitor workspace: CLEARANCE_PROMETHEUS_QUERY_URL."
  type        = string
}

variable "model_namespaces" {
  description = "Kubernetes namespaces of the region's cluster the cell may write models to: the model teams' team-<team> (module catalog, team_namespaces)."
  type        = list(string)
  default     = []
}

variable "tenant_id" {
  description = "Entra ID tenant of Easy Auth and the Key Vault."
  type        = string
}

variable "deployer_object_id" {
  description = "Object id of the principal running Terraform; it writes the link-signing key to the vault."
  type        = string
}

variable "easy_auth_client_id" {
  description = "Client id of the Entra ID app registration that signs approvers and auditors in."
  type        = string
}

variable "mail" {
  description = "Azure Communication Services email: sender address (a verified domain), endpoint, platform team address, and the ACS resource id (scope of the send-mail role; null: assigned by hand)."
  type = object({
    sender          = string
    acs_endpoint    = string
    platform_email  = string
    acs_resource_id = optional(string)
  })
}

variable "anonymous_paths" {
  description = "HTTP paths Easy Auth lets through without sign-in; every other route (approval, audit) needs Entra ID."
  type        = list(string)
  default     = ["/api/health", "/runtime/webhooks/eventgrid"]
}

variable "event_subscriptions_enabled" {
  description = "Create the Event Grid subscriptions. false only for a first apply, before the function code exists."
  type        = bool
  default     = true
}

variable "maximum_instance_count" {
  description = "Flex Consumption scale-out limit of the Function App."
  type        = number
  default     = 40
}

variable "lineage_immutability" {
  description = "Time-based retention of the lineage chain-head container; lock only after validating it (irreversible)."
  type = object({
    days   = number
    locked = bool
  })
  default = { days = 365, locked = false }
}

variable "log_retention_days" {
  description = "Retention of the cell's Log Analytics workspace."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "rbac_propagation_wait" {
  description = "How long to wait after creating role assignments that the same apply depends on (Key Vault secret write, Function App host start)."
  type        = string
  default     = "120s"
}

variable "worker" {
  description = "Python worker concurrency of the Function App: FUNCTIONS_WORKER_PROCESS_COUNT and PYTHON_THREADPOOL_THREAD_COUNT."
  type = object({
    process_count = optional(number, 1)
    thread_count  = optional(number, 8)
  })
  default = {}

  validation {
    condition     = var.worker.process_count >= 1 && var.worker.process_count <= 10 && var.worker.thread_count >= 1 && var.worker.thread_count <= 32
    error_message = "worker.process_count is 1-10 and worker.thread_count 1-32 (the Python worker's limits)."
  }
}

variable "checkpoint_key_rotation" {
  description = "Rotation policy of the lineage-checkpoint key (ISO 8601 durations): each version expires after expire_after; Key Vault adds a new one rotate_before_expiry earlier."
  type = object({
    expire_after         = optional(string, "P1Y")
    rotate_before_expiry = optional(string, "P60D")
  })
  default = {}
}

variable "auditors_group_object_id" {
  description = "Optional Entra ID group of auditors: read access to the lineage tables and blobs and to the checkpoint key's public half. null: no auditor access."
  type        = string
  default     = null
}

variable "ado_organizations" {
  description = "Azure DevOps organisation URLs whose environment checks may call this cell (https://dev.azure.com/<org>/)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for url in var.ado_organizations : can(regex("^https://[a-z0-9.-]+/([A-Za-z0-9._-]+/)?$", url))])
    error_message = "Each organisation is an https URL ending in '/', such as https://dev.azure.com/contoso/."
  }
}

variable "alert_emails" {
  description = "Who is mailed when one of the cell's operability alerts fires (docs/operators.md, alert runbook)."
  type        = list(string)
  default     = []
}

variable "checkpoint_age_alert_seconds" {
  description = "Alert when the newest signed lineage checkpoint is older than this: the blind-window target (60 s) plus a margin for the timer and export."
  type        = number
  default     = 120
}

variable "intake_error_rate_alert" {
  description = "Alert when more than this fraction of intake invocations fail over 15 minutes."
  type        = number
  default     = 0.05
}
