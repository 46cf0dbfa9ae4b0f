"""Lineage use cases: auditor queries, the read-only API and audit page, snapshots, verify."""
