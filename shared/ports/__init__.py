"""Ports: the small interfaces services use and adapters implement, grouped by capability.

Tests use fakes implementing these same ports (``tests/support/fakes.py``)."""
