"""Metric providers: Prometheus HTTP API (also Azure Monitor managed Prometheus), Log Analytics
/ Application Insights (KQL) and Azure Monitor metrics of Azure ML online endpoints."""
