# dev: one region. Same module as prod (modules/environment);
# only these values differ. Organisation-specific ids below are placeholders.
# Every value of the environment, typed and described in modules/environment/variables.tf.
environment = {
  name        = "dev"
  name_prefix = "clr"

  residency_zones = {
    EU = "European Union: processing in EU regions only"
  }

  regions = {
    westeurope = { zone = "EU" }
  }

  # Owners Clearance may mail (rejections, decisions); anyone else is reported to the platform
  # address only. Sub-address separators per domain ("+" when not listed).
  identity = {
    owner_domains = ["contoso.example"]
  }

  approval = {
    default = {
      approvers       = ["clearance-dev-approver-1@contoso.com", "clearance-dev-approver-2@contoso.com"]
      min_approvals   = 1
      expiry_hours    = 24
      require_sign_in = false
    }
  }

  gitops = {
    repository_url = "https://dev.azure.com/contoso/clearance/_git/serving"
    branch         = "dev"
    path           = "regions"
  }

  # Every region: staging (no human approval once intake validated; promotes itself after
  # an hour without rollback) then prod (the region's quorum, weekday windows).
  stages = [
    { name = "staging", no_human_approval = true, bake_minutes = 60, auto_promote = true },
    {
      name = "prod"
      windows = {
        time_zone = "Europe/Amsterdam"
        weekly    = [{ days = ["mon", "tue", "wed", "thu"], start = "09:00", end = "16:00" }]
        freezes   = [{ start = "2026-12-21", end = "2027-01-03", reason = "year-end freeze" }]
      }
    },
  ]

  aks_admin_group_object_ids      = ["5c0d7a3e-2b1f-4c9d-8e7a-6f5b4a3c2d1e"]
  api_server_authorized_ip_ranges = ["203.0.113.0/24"]
  easy_auth_client_id             = "7a1e5c3b-9d2f-4b8a-a6e4-1c0d3f5b7e92"

  mail = {
    sender          = "clearance@notify.contoso.com"
    acs_endpoint    = "https://acs-clearance-dev.europe.communication.azure.com"
    platform_email  = "ml-platform@contoso.com"
    acs_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-clearance-dev-mail/providers/Microsoft.Communication/communicationServices/acs-clearance-dev"
  }
}
