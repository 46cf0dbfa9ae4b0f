"""Every manifest is checked against the Kubernetes schema of the cluster's version, strictly
(unknown fields refused), before it is applied or committed.

The schemas ship with ``kubernetes-validate`` (no network); it is imported on this path only.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.manifests.objects import Manifest


def validate_manifests(manifests: Iterable[Manifest], kubernetes_version: str) -> int:
    """Raise ``PlanError`` naming the first invalid object and field; return how many passed."""
    import kubernetes_validate
    from kubernetes_validate.utils import VersionNotSupportedError

    count = 0
    for manifest in manifests:
        kind = manifest.get("kind", "?")
        name = (manifest.get("metadata") or {}).get("name", "?")
        try:
            kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "<root>"
            raise PlanError(
                DeployCode.INVALID_MANIFEST,
                f"{kind}/{name} is not valid for Kubernetes {kubernetes_version}: "
                f"{where}: {exc.message}",
            ) from exc
        except (
            kubernetes_validate.SchemaNotFoundError,
            kubernetes_validate.InvalidSchemaError,
            VersionNotSupportedError,
        ) as exc:
            raise PlanError(
                DeployCode.INVALID_MANIFEST,
                f"{kind}/{name} cannot be checked for Kubernetes {kubernetes_version}: "
                f"{getattr(exc, 'message', exc)}",
            ) from exc
        count += 1
    return count
