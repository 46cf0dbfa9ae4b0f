"""Intake use cases: an Event Grid event becomes one approval request or a rejection."""
