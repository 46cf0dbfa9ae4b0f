# The cell's Key Vault (RBAC mode, purge protection) and the link-signing keys.
# The secret holds CLEARANCE_LINK_SIGNING_KEYS: a JSON map key id -> secret. Terraform writes
# the first version once, write-only (never in state). Terraform never compares write-only
# values, so the versions that rotation adds outside Terraform (docs/operators.md) stay; do not
# bump value_wo_version, which would overwrite them with a single fresh key.
resource "azurerm_key_vault" "this" {
  name                          = var.names.key_vault
  location                      = var.region
  resource_group_name           = azurerm_resource_group.this.name
  tenant_id                     = var.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true
  tags                          = var.tags

  network_acls {
    bypass         = "AzureServices"
    default_action = "Allow"
  }
}

ephemeral "random_password" "link_signing_key" {
  length  = 64
  special = false
}

resource "azurerm_key_vault_secret" "link_signing_keys" {
  name             = "link-signing-keys"
  key_vault_id     = azurerm_key_vault.this.id
  content_type     = "application/json"
  value_wo         = jsonencode({ k1 = ephemeral.random_password.link_signing_key.result })
  value_wo_version = 1
  tags             = var.tags

  depends_on = [time_sleep.deployer_secrets_officer_propagation]
}

locals {
  # Created by an operator (docs/operators.md): the client secret of the Easy Auth app registration.
  easy_auth_secret_uri = "${azurerm_key_vault.this.vault_uri}secrets/easy-auth-client-secret"
  # Created by an operator (docs/operators.md): the Teams Workflows webhook URL of the region's
  # approvals channel (a URL that can post to the channel is a secret).
  teams_webhook_secret_uri = "${azurerm_key_vault.this.vault_uri}secrets/teams-webhook-url"
  # Created by an operator (docs/azure-devops.md): the shared secret Azure DevOps checks send in
  # X-Clearance-Check-Key (the same value sits in the Key Vault-backed variable group).
  ado_check_secret_uri = "${azurerm_key_vault.this.vault_uri}secrets/ado-check-secret"
}

# Lineage checkpoint signing (issue 12): the cell signs each chain-head snapshot with this key
# (sign in Key Vault; the private half never leaves the vault). EC P-256, ES256 signatures.
# The app signs with the versionless id (CLEARANCE_CHECKPOINT_KEY_ID), which Key Vault resolves
# to the newest version; a signature names the version it was made with (kid), so checkpoints
# signed before a rotation stay verifiable with that version's public key. Automatic rotation
# adds a version before the current one expires; older versions stay readable (verify).
resource "azurerm_key_vault_key" "lineage_checkpoint" {
  name         = "lineage-checkpoint"
  key_vault_id = azurerm_key_vault.this.id
  key_type     = "EC"
  curve        = "P-256"
  key_opts     = ["sign", "verify"]
  tags         = var.tags

  rotation_policy {
    expire_after         = var.checkpoint_key_rotation.expire_after
    notify_before_expiry = "P30D"

    automatic {
      time_before_expiry = var.checkpoint_key_rotation.rotate_before_expiry
    }
  }

  depends_on = [time_sleep.deployer_crypto_officer_propagation]
}
