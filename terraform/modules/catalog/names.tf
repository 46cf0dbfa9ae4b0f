# Every resource name of every cell, derived from (prefix, environment, region) alone.
# Globally unique names that Azure limits to 24 characters (storage, Key Vault) use a short
# form: prefix + environment + the region truncated to 9 characters + 4 hex digits of the
# region's md5, so two regions that share a 9-character prefix still get distinct names.
locals {
  names = {
    for region in keys(var.regions) : region => {
      resource_group         = "rg-${var.name_prefix}-${var.environment}-${region}"
      serving_resource_group = "rg-${var.name_prefix}-${var.environment}-${region}-serving"
      function_app           = "func-${var.name_prefix}-${var.environment}-${region}"
      service_plan           = "asp-${var.name_prefix}-${var.environment}-${region}"
      service_bus            = "sb-${var.name_prefix}-${var.environment}-${region}"
      application_insights   = "appi-${var.name_prefix}-${var.environment}-${region}"
      log_analytics          = "log-${var.name_prefix}-${var.environment}-${region}"
      storage_account        = "st${var.name_prefix}${var.environment}${substr(region, 0, 9)}${substr(md5(region), 0, 4)}"
      key_vault              = "kv${var.name_prefix}${var.environment}${substr(region, 0, 9)}${substr(md5(region), 0, 4)}"
      registry               = "cr${var.name_prefix}${var.environment}${substr(region, 0, 9)}${substr(md5(region), 0, 4)}"
      aml_storage_account    = "sm${var.name_prefix}${var.environment}${substr(region, 0, 9)}${substr(md5(region), 0, 4)}"
      aml_key_vault          = "km${var.name_prefix}${var.environment}${substr(region, 0, 9)}${substr(md5(region), 0, 4)}"
      aks_cluster            = "aks-${var.name_prefix}-${var.environment}-${region}"
      aml_workspace          = "mlw-${var.name_prefix}-${var.environment}-${region}"
      aml_compute            = "serving"
      monitor_workspace      = "amw-${var.name_prefix}-${var.environment}-${region}"
    }
  }
}
