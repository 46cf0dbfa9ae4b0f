"""Clearance: the control plane package (domain, services, adapters, settings, composition root)."""
