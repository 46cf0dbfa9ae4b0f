terraform {
  # 1.11: write-only attributes (modules/cell); 1.9: variable validations that refer to
  # other variables (region).
  required_version = ">= 1.11.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.77.0, < 5.0.0"
    }
  }
}
