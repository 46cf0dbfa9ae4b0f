"""Approval use cases: open a request, notify, review page, votes, decisions, expiry."""
