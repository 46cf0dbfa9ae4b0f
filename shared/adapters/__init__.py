"""Adapters: implementations of the ports over Azure SDKs. SDK errors are translated here."""
