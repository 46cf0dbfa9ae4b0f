"""The `clearance` command line: model owners, auditors, operators and the local stack."""
