# Pure module: no providers, no resources. It computes names and the region catalog from
# variables only, so every cell can be given the whole catalog without depending on any other
# cell's state (see terraform/README.md, "Why the catalog is computed, not collected").
terraform {
  required_version = ">= 1.9.0"
}
