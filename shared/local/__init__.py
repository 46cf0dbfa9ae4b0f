"""The local stack: stand-ins for the Azure parts that cannot run here, and the real parts
(Azurite, docker-registry, SMTP) wired like a cell. Never deployed (see .funcignore)."""
