"""The composition root: the one place that wires adapters into the services.

``container`` builds every client lazily and caches it; ``deploy`` builds the deployment
dependencies from those clients.
"""

from shared.composition.container import Container, get_container

__all__ = ["Container", "get_container"]
