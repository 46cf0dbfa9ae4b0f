"""Deployment rules: plans, strategies as steps, revisions, state, and the codes of refusals."""
