"""Clearance's own telemetry: OpenTelemetry spans and metrics, exported to Application Insights
in Azure (``azure-monitor-opentelemetry``) and, on the local stack, to JSONL span files and a
Prometheus endpoint per host process. Nothing here is imported at cold start: the first trigger
invocation configures it (``runtime.telemetry``)."""
