"""Intake rules: the events, OCI manifest kinds, the de-duplication ledger's values, the
intake policy."""
