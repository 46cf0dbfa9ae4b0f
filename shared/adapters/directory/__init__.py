"""Directory adapters: Microsoft Graph (Entra ID) and the local stack's JSON document."""
