"""Metric analysis of a candidate revision: checks, their queries, and verdicts (pure)."""
