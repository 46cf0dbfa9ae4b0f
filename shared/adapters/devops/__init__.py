"""Azure DevOps: the checks callback."""
