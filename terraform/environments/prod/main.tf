# Everything this environment provisions is in modules/environment; this root adds only its
# state backend (versions.tf), provider configuration (providers.tf) and values (terraform.tfvars).
module "environment" {
  source = "../../modules/environment"

  environment                 = var.environment
  region                      = var.region
  event_subscriptions_enabled = var.event_subscriptions_enabled
}
