"""Checkpoint signing: Key Vault in Azure, a key file outside the storage account locally."""
