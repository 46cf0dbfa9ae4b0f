"""Every manifest is checked against the Kubernetes schema of the cluster's version, strictly
(unknown fields refused), before it is applied or committed.

The schemas ship with ``kubernetes-validate`` (no network); it is imported on this path only.
Its ``validate`` reads the version directory and parses the 1.3 MB ``_definitions.json`` for
every object (about 9 ms of CPU each, most of a deployment step's); here the same schema
version is chosen the same way once per cluster version, and each schema file is parsed once
per process, into one validator per kind and API version (read-only afterwards, so threads
share them).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.manifests.objects import Manifest

_API_GROUP = re.compile(r"^([^./]*)(?:\.[^/]*)?/")  # rbac.authorization.k8s.io/v1 -> rbac-v1
# What a kind and an API version may look like: both end up in a schema file's name, so
# nothing else (a "../" reaching a non-strict schema, say) is looked up.
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
_API = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?")
_lock = threading.Lock()  # one parse per schema file, even when threads ask at once


def validate_manifests(manifests: Iterable[Manifest], kubernetes_version: str) -> int:
    """Raise ``PlanError`` naming the first invalid object and field; return how many passed."""
    import kubernetes_validate
    from kubernetes_validate.utils import VersionNotSupportedError

    count = 0
    for manifest in manifests:
        kind = manifest.get("kind", "?")
        name = (manifest.get("metadata") or {}).get("name", "?")
        try:
            _validate(manifest, kubernetes_version)
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


def _validate(manifest: Manifest, kubernetes_version: str) -> None:
    """``kubernetes_validate.validate(manifest, kubernetes_version, strict=True)``, with the
    schema version, the schema files and the validators cached."""
    import jsonschema
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    api, kind = manifest.get("apiVersion"), manifest.get("kind")
    if not (
        isinstance(api, str)
        and isinstance(kind, str)
        and _API.fullmatch(api)
        and _KIND.fullmatch(kind)
    ):
        raise SchemaNotFoundError(
            kind=str(kind)[:100], version=kubernetes_version, api_version=str(api)[:100]
        )
    version = _schema_version(kubernetes_version.removeprefix("v"))
    validator = _validator(version, kind.lower(), _API_GROUP.sub(r"\1-", api))
    if validator is None:
        raise SchemaNotFoundError(kind=kind, version=_major_minor(version), api_version=api)
    try:
        validator.validate(manifest)
    except jsonschema.ValidationError as exc:
        raise ValidationError(exc, version=_major_minor(version)) from exc


def _major_minor(version: str) -> str:
    from kubernetes_validate.utils import major_minor

    return str(major_minor(version))


@lru_cache(maxsize=16)
def _schema_version(desired: str) -> str:
    """The newest schema version not newer than ``desired``, as kubernetes-validate picks it
    (``VersionNotSupportedError`` past its newest)."""
    from kubernetes_validate.utils import VersionNotSupportedError, all_versions, latest_version

    wanted = _major_minor(desired)
    if wanted > latest_version():
        raise VersionNotSupportedError(version=wanted)
    return str([v for v in all_versions() if _major_minor(v) <= wanted][-1])


@lru_cache(maxsize=256)
def _validator(version: str, kind: str, api: str) -> Any | None:
    """The strict validator of one kind and API version (None: no such schema)."""
    import jsonschema
    from kubernetes_validate.utils import schema_contents

    directory = f"kubernetes-json-schema/v{version}-local-strict"
    with _lock:
        try:
            schema = schema_contents(f"{directory}/{kind}-{api}.json", version)
        except FileNotFoundError:
            return None
        registry = _registry(directory, version)
    from referencing import Resource

    resource = Resource.from_contents(schema)
    return jsonschema.validators.Draft202012Validator(schema, registry=resource @ registry)


@lru_cache(maxsize=4)
def _registry(directory: str, version: str) -> Any:
    """The version's shared definitions, parsed once."""
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    definitions = Resource.from_contents(schema_contents(f"{directory}/_definitions.json", version))
    return definitions @ Registry()
