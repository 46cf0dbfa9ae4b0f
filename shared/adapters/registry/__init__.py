"""Container registries (ACR, and the local docker-registry) over azure-containerregistry."""
