"""The region's AKS cluster through the kubernetes client (imported lazily)."""
