# The cell's Function App: Flex Consumption, Python 3.11, every connection identity based,
# secrets as Key Vault references, Easy Auth (Entra ID) in front of the approval and audit
# routes.
#
# Identities. The cell identity (user-assigned, identity.tf) is what the host and the app use:
# host storage (AzureWebJobsStorage__*), the deployment package, and every data-plane call of
# the app (CLEARANCE_MANAGED_IDENTITY_CLIENT_ID). It exists, with its roles propagated, before
# the app is created, so the host's first start already reaches its storage. The app's
# system-assigned identity only resolves Key Vault references: that is the identity App
# Service uses for them unless keyVaultReferenceIdentity is set, which azurerm does not expose
# for Flex Consumption apps.
locals {
  app_settings = {
    CLEARANCE_REGION                     = var.region
    CLEARANCE_CATALOG_JSON               = var.catalog_json
    CLEARANCE_BUS_KIND                   = "servicebus"
    CLEARANCE_MANAGED_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.cell.client_id
    # Host storage through the cell identity, never a connection string (shared keys are off).
    # With storage_authentication_type = UserAssignedIdentity the provider writes no
    # AzureWebJobsStorage connection string (with SystemAssignedIdentity it writes one with an
    # empty key, which the host prefers and fails on: azurerm issues #29693, #29149).
    AzureWebJobsStorage__accountName = azurerm_storage_account.this.name
    AzureWebJobsStorage__credential  = "managedidentity"
    AzureWebJobsStorage__clientId    = azurerm_user_assigned_identity.cell.client_id
    # Service Bus trigger connection (shared/queues.py SERVICE_BUS_CONNECTION), identity based.
    CLEARANCE_SERVICEBUS__fullyQualifiedNamespace = "${azurerm_servicebus_namespace.this.name}.servicebus.windows.net"
    CLEARANCE_SERVICEBUS__credential              = "managedidentity"
    CLEARANCE_SERVICEBUS__clientId                = azurerm_user_assigned_identity.cell.client_id
    CLEARANCE_LINK_SIGNING_KEYS                   = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.link_signing_keys.versionless_id})"
    # Lineage checkpoint signing (issue 12): the key, not a secret. Versionless, so signing
    # follows rotation (key_vault.tf); the app signs through Key Vault with the cell identity.
    CLEARANCE_CHECKPOINT_KEY_ID              = azurerm_key_vault_key.lineage_checkpoint.versionless_id
    MICROSOFT_PROVIDER_AUTHENTICATION_SECRET = "@Microsoft.KeyVault(SecretUri=${local.easy_auth_secret_uri})"
    # The region's Teams Workflows webhook (approvals channel), created by an operator.
    CLEARANCE_TEAMS_WEBHOOK_URL = "@Microsoft.KeyVault(SecretUri=${local.teams_webhook_secret_uri})"
    # Azure DevOps checks (docs/azure-devops.md): the check's shared secret, and the only
    # organisation URLs a check's PlanUrl may name (the callback goes nowhere else).
    CLEARANCE_ADO_CHECK_SECRET  = "@Microsoft.KeyVault(SecretUri=${local.ado_check_secret_uri})"
    CLEARANCE_ADO_ORGANIZATIONS = join(",", var.ado_organizations)
    # Telemetry with the cell identity (Monitoring Metrics Publisher, roles.tf).
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "ClientId=${azurerm_user_assigned_identity.cell.client_id};Authorization=AAD"
    # Python worker concurrency (issue 15). Neither is in Microsoft's list of app settings Flex
    # Consumption rejects or replaces (which covers FUNCTIONS_WORKER_RUNTIME, WEBSITE_* and
    # the like); both are read by the Python worker itself. FC1 instances of 2048 MB have one
    # vCPU and the app's work is I/O-bound (Azure SDK calls), so: one process, more threads.
    # Metric analysis (issue 16): PromQL endpoint of the region's Azure Monitor workspace and
    # the cell's Log Analytics workspace (its workspace id, the GUID queries take).
    CLEARANCE_PROMETHEUS_QUERY_URL       = var.prometheus_query_endpoint
    CLEARANCE_LOG_ANALYTICS_WORKSPACE_ID = azurerm_log_analytics_workspace.this.workspace_id
    # Timers: no CLEARANCE_TIMERS_RUN_ON_STARTUP here. It is a local-only setting: the app
    # never runs a timer at host start in Azure (WEBSITE_INSTANCE_ID is set), because Flex
    # Consumption starts a host on every scale-out.
    # Approver groups through Microsoft Graph (GroupMember.Read.All, a first-apply step in
    # docs/operators.md); signed-in approvers must belong to this tenant.
    CLEARANCE_DIRECTORY_KIND = "graph"
    # Bake times and analysis intervals as labelled (the local stack shortens them).
    CLEARANCE_DEPLOY_TIME_SCALE = "1"
    # Rejection mails per address: one now, the rest in one digest after this window.
    CLEARANCE_MAIL_DIGEST_WINDOW_SECONDS = "300"
    CLEARANCE_TENANT_ID                  = var.tenant_id
    FUNCTIONS_WORKER_PROCESS_COUNT       = tostring(var.worker.process_count)
    PYTHON_THREADPOOL_THREAD_COUNT       = tostring(var.worker.thread_count)
    # Notification mail through Azure Communication Services, with the app's identity.
    CLEARANCE_MAIL_KIND      = "acs"
    CLEARANCE_MAIL_SENDER    = var.mail.sender
    CLEARANCE_ACS_ENDPOINT   = var.mail.acs_endpoint
    CLEARANCE_PLATFORM_EMAIL = var.mail.platform_email
  }
}

resource "azurerm_service_plan" "this" {
  name                = var.names.service_plan
  location            = var.region
  resource_group_name = azurerm_resource_group.this.name
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = var.tags
}

resource "azurerm_function_app_flex_consumption" "this" {
  name                = var.names.function_app
  location            = var.region
  resource_group_name = azurerm_resource_group.this.name
  service_plan_id     = azurerm_service_plan.this.id

  runtime_name           = "python"
  runtime_version        = "3.11"
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = 2048

  # Deployment package through the cell identity; host storage: AzureWebJobsStorage__* above.
  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.this.primary_blob_endpoint}${azurerm_storage_container.this["deployment"].name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.cell.id

  https_only                                     = true
  client_certificate_mode                        = "Optional"
  webdeploy_publish_basic_authentication_enabled = false
  app_settings                                   = local.app_settings
  tags                                           = var.tags

  identity {
    type         = "SystemAssigned, UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.cell.id]
  }

  site_config {
    application_insights_connection_string = azurerm_application_insights.this.connection_string
    minimum_tls_version                    = "1.2"
    http2_enabled                          = true
  }

  auth_settings_v2 {
    auth_enabled           = true
    require_authentication = true
    unauthenticated_action = "RedirectToLoginPage"
    default_provider       = "azureactivedirectory"
    excluded_paths         = var.anonymous_paths
    require_https          = true

    active_directory_v2 {
      client_id                  = var.easy_auth_client_id
      tenant_auth_endpoint       = "https://login.microsoftonline.com/${var.tenant_id}/v2.0/"
      client_secret_setting_name = "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"
      allowed_audiences          = ["api://${var.easy_auth_client_id}"]
    }

    login {
      token_store_enabled = false
    }
  }

  # The cell identity's roles (storage above all) must have propagated before the host starts.
  depends_on = [time_sleep.cell_roles_propagation]

  lifecycle {
    # The catalog's function_app_url is computed from the app's name; fail loudly if Azure
    # ever gives the app another host name.
    postcondition {
      condition     = self.default_hostname == "${var.names.function_app}.azurewebsites.net"
      error_message = "The Function App's host name differs from the one the region catalog advertises."
    }
  }
}
