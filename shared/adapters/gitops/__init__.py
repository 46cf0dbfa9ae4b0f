"""The region's GitOps repository."""
