"""Azure ML entities built from Clearance's specs through the SDK's own schema.

``load_online_endpoint`` / ``load_online_deployment`` run the same marshmallow schema as the
``az ml`` CLI, so an unknown field or a wrong type is refused before anything is sent.
``azure.ai.ml`` is imported here, on the aml path only.
"""

from __future__ import annotations

import io
from typing import Any

import yaml

from shared.domain.deploy.aml import Spec
from shared.domain.deploy.codes import DeployCode, PlanError


def _load(loader: Any, spec: Spec, what: str) -> Any:
    from azure.ai.ml.exceptions import ValidationException
    from marshmallow import ValidationError

    stream = io.StringIO(yaml.safe_dump(spec, sort_keys=True))
    try:
        return loader(stream)
    except (ValidationException, ValidationError, ValueError) as exc:
        raise PlanError(
            DeployCode.INVALID_MANIFEST, f"Azure ML refused the {what} spec: {exc}"
        ) from exc


def build_endpoint(spec: Spec) -> Any:
    """A ``KubernetesOnlineEndpoint``; mirror traffic is refused (Kubernetes endpoints cannot)."""
    from azure.ai.ml import load_online_endpoint
    from azure.ai.ml.entities import KubernetesOnlineEndpoint

    if spec.get("mirror_traffic"):
        raise PlanError(
            DeployCode.STRATEGY_UNSUPPORTED,
            "Azure ML Kubernetes online endpoints cannot mirror traffic (no shadow).",
        )
    entity = _load(load_online_endpoint, spec, "endpoint")
    if not isinstance(entity, KubernetesOnlineEndpoint):
        raise PlanError(DeployCode.INVALID_MANIFEST, "the endpoint spec is not a Kubernetes one")
    return entity


def build_deployment(spec: Spec) -> Any:
    from azure.ai.ml import load_online_deployment
    from azure.ai.ml.entities import KubernetesOnlineDeployment

    entity = _load(load_online_deployment, spec, "deployment")
    if not isinstance(entity, KubernetesOnlineDeployment):
        raise PlanError(DeployCode.INVALID_MANIFEST, "the deployment spec is not a Kubernetes one")
    return entity
