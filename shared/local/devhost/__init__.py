"""A local Functions host: drives the same handler objects that Azure runs."""
