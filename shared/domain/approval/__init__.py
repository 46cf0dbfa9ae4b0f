"""Approval rules: the record, its state machine, quorum, separation of duties, signed links."""
