# Copy to backend.hcl (not committed) and fill in the state storage account.
# The key is given separately per region: -backend-config="key=<environment>/<region>.tfstate"
resource_group_name  = "rg-clearance-tfstate"
storage_account_name = "stclearancetfstate"
container_name       = "tfstate"
use_azuread_auth     = true
