"""Deployment use cases: rollouts step by step, rollback, records; drivers in ``drivers``."""
