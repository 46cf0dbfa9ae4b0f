"""Kubernetes manifests of a plan: objects, phases per step, GitOps files, schema validation."""
