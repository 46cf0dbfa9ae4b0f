# Descriptions, types and validations: modules/environment/variables.tf.
variable "environment" { type = any }                     # terraform.tfvars
variable "region" { type = string }                       # -var region=<region> (pipeline: one plan/apply per region)
variable "event_subscriptions_enabled" { default = true } # false: first apply of a new region
