# prod: three regions across two residency zones. Adding a region is one line in `regions`
# (and its stage in azure-pipelines.yml; tests/terraform checks the two agree).
# Organisation-specific ids below (groups, app registration, CIDRs) are placeholders: set
# the real ones before the first apply.
# Every value of the environment, typed and described in modules/environment/variables.tf.
environment = {
  name        = "prod"
  name_prefix = "clr"

  residency_zones = {
    EU = "European Union: processing in EU regions only"
    SE = "Sweden: processing in Swedish regions only"
  }

  regions = {
    westeurope    = { zone = "EU" }
    northeurope   = { zone = "EU" }
    swedencentral = { zone = "SE", also_in = ["EU"] }
  }

  # Owners Clearance may mail (rejections, decisions); anyone else is reported to the platform
  # address only. Sub-address separators per domain ("+" when not listed).
  identity = {
    owner_domains = ["contoso.example"]
  }

  approval = {
    default = {
      approver_groups = ["3f2b9c1e-7d4a-4e8b-9a61-2c5d8e0f1a47"]
      min_approvals   = 2
      expiry_hours    = 72
      require_sign_in = true
    }
    by_risk_tier = {
      critical = {
        approver_groups = ["9b7e4d2a-1c3f-4a5b-8e6d-0f1a2b3c4d5e"]
        min_approvals   = 3
        expiry_hours    = 24
        require_sign_in = true
      }
    }
  }

  gitops = {
    repository_url = "https://dev.azure.com/contoso/clearance/_git/serving"
    branch         = "main"
    path           = "regions"
  }

  aks_admin_group_object_ids      = ["5c0d7a3e-2b1f-4c9d-8e7a-6f5b4a3c2d1e"]
  api_server_authorized_ip_ranges = ["203.0.113.0/24"]
  easy_auth_client_id             = "7a1e5c3b-9d2f-4b8a-a6e4-1c0d3f5b7e92"

  mail = {
    sender          = "clearance@notify.contoso.com"
    acs_endpoint    = "https://acs-clearance-prod.europe.communication.azure.com"
    platform_email  = "ml-platform@contoso.com"
    acs_resource_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-clearance-prod-mail/providers/Microsoft.Communication/communicationServices/acs-clearance-prod"
  }
}
