"""What a pushed OCI manifest is: a runnable image, an image index, or another artifact.

Pure decisions over manifest and config documents that an adapter fetched by digest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.errors import Violation
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.value_rules import printable

IMAGE_MANIFESTS = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    }
)
IMAGE_INDEXES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    }
)
IMAGE_CONFIGS = frozenset(
    {
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.oci.image.config.v1+json",
    }
)
RUNNABLE_PLATFORM = ("linux", "amd64")


@dataclass(frozen=True)
class Skip:
    """Not a runnable image (Helm chart, signature, SBOM, attestation, ...): nothing to approve."""

    reason: str


def media_type(manifest: Mapping[str, Any], declared: str | None = None) -> str:
    return str(manifest.get("mediaType") or declared or "")


def classify_manifest(manifest: Mapping[str, Any], declared: str | None = None) -> Skip | None:
    """``None`` for a runnable image manifest, else why it is skipped."""
    kind = media_type(manifest, declared)
    if kind not in IMAGE_MANIFESTS:
        return Skip(f"media type {kind or 'unknown'} is not a container image manifest")
    artifact_type = manifest.get("artifactType")
    if artifact_type:
        return Skip(f"artifact type {artifact_type} is not a runnable image")
    config = manifest.get("config") or {}
    config_type = str(config.get("mediaType") or "")
    if config_type not in IMAGE_CONFIGS:
        return Skip(f"config media type {config_type or 'unknown'} is not a container image")
    if manifest.get("subject"):
        return Skip("a referrer (signature, SBOM or attestation) of another manifest")
    return None


def platform_of(descriptor: Mapping[str, Any]) -> tuple[str, str]:
    platform = descriptor.get("platform") or {}
    return str(platform.get("os", "")), str(platform.get("architecture", ""))


def select_runnable(index: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The linux/amd64 image descriptor of an index (attestation entries are not platforms)."""
    for descriptor in image_descriptors(index):
        if platform_of(descriptor) == RUNNABLE_PLATFORM:
            return descriptor
    return None


def image_descriptors(index: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Descriptors for real platforms: unknown/unknown entries are buildkit attestations."""
    manifests = index.get("manifests") or []
    return [
        d
        for d in manifests
        if isinstance(d, Mapping)
        and platform_of(d) != ("unknown", "unknown")
        and not (d.get("annotations") or {}).get("vnd.docker.reference.type")
    ]


def labels_of(config: Mapping[str, Any]) -> dict[str, str]:
    """``config.Labels`` of an image config; non-string values are kept as their text."""
    labels = (config.get("config") or {}).get("Labels") or {}
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in labels.items()}


def label_disagreements(per_platform: Mapping[str, Mapping[str, str]]) -> list[Violation]:
    """One violation per label key whose value differs between platforms of one index."""
    keys = sorted({k for labels in per_platform.values() for k in labels})
    violations = []
    for key in keys:
        values = {platform: labels.get(key) for platform, labels in per_platform.items()}
        if len(set(values.values())) > 1:
            shown = ", ".join(
                f"{p}={'(absent)' if v is None else printable(v, 60)}" for p, v in values.items()
            )
            violations.append(
                Violation(
                    IntakeCode.INTAKE_PLATFORM_LABELS,
                    f"The platforms of this multi-platform image disagree on "
                    f"{printable(key, 120)} ({shown}); "
                    "build every platform with the same labels.",
                    key,
                )
            )
    return violations


def annotations_of(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``annotations`` of a manifest or index (``buildx --annotation``, OCI annotations)."""
    annotations = manifest.get("annotations") or {}
    if not isinstance(annotations, Mapping):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in annotations.items()}


def merge_label_sources(
    sources: Sequence[tuple[str, Mapping[str, str]]],
) -> tuple[dict[str, str], list[Violation]]:
    """Labels from every source, in precedence order (index annotations, manifest annotations,
    then config labels); a key two sources set to different values is a conflict."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    violations: list[Violation] = []
    for name, labels in sources:
        for key, value in labels.items():
            if key not in merged:
                merged[key], origin[key] = value, name
            elif merged[key] != value:
                violations.append(
                    Violation(
                        IntakeCode.META_SOURCE_CONFLICT,
                        f"{printable(key, 120)} is {printable(merged[key], 60)} in the "
                        f"{origin[key]} but {printable(value, 60)} in the {name}; set it in one "
                        "place, or to the same value in both.",
                        printable(key, 255),
                    )
                )
    return merged, violations
