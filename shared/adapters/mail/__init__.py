"""Mail: Azure Communication Services Email in Azure, SMTP locally."""
