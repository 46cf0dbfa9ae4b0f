"""Azure ML: online endpoints and entities through azure-ai-ml (imported lazily)."""
