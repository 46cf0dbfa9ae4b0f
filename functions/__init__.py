"""Trigger modules: one Blueprint each, thin. Business rules live in ``shared``."""
