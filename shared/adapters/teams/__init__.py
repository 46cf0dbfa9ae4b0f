"""Microsoft Teams: the Workflows webhook."""
