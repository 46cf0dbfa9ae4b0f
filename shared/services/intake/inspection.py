"""Read a pushed manifest by digest and find the labels that matter, or why it is skipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.domain.errors import TerminalError, Violation
from shared.domain.intake.oci import (
    IMAGE_INDEXES,
    RUNNABLE_PLATFORM,
    Skip,
    annotations_of,
    classify_manifest,
    image_descriptors,
    label_disagreements,
    labels_of,
    media_type,
    merge_label_sources,
    platform_of,
    select_runnable,
)
from shared.ports.registry import RegistryReader

MAX_CONFIG_BYTES = 1024 * 1024
MAX_PLATFORMS = 16


@dataclass(frozen=True)
class InspectedImage:
    labels: dict[str, str]
    disagreements: tuple[Violation, ...] = ()
    platform_digests: tuple[str, ...] = ()


def inspect_image(
    reader: RegistryReader, login_server: str, repository: str, digest: str, declared: str = ""
) -> InspectedImage | Skip:
    manifest = reader.get_manifest(login_server, repository, digest)
    if media_type(manifest, declared) in IMAGE_INDEXES:
        return _inspect_index(reader, login_server, repository, manifest)
    skip = classify_manifest(manifest, declared)
    if skip is not None:
        return skip
    config = _config(reader, login_server, repository, manifest)
    platform = (str(config.get("os", "")), str(config.get("architecture", "")))
    if platform != RUNNABLE_PLATFORM:
        return Skip(
            f"platform {'/'.join(platform)} is not deployed: Clearance runs linux/amd64 images "
            "only, so of a multi-platform image only its linux/amd64 manifest is approved and "
            "pods are pinned to amd64 nodes"
        )
    labels, conflicts = merge_label_sources(
        [("manifest annotations", annotations_of(manifest)), ("image labels", labels_of(config))]
    )
    return InspectedImage(labels, tuple(conflicts))


def _config(
    reader: RegistryReader, login_server: str, repository: str, manifest: dict[str, Any]
) -> dict[str, Any]:
    config_digest = str((manifest.get("config") or {}).get("digest", ""))
    if not config_digest:
        raise TerminalError("the image manifest names no config blob")
    return reader.get_json_blob(login_server, repository, config_digest, max_bytes=MAX_CONFIG_BYTES)


def _inspect_index(
    reader: RegistryReader, login_server: str, repository: str, index: dict[str, Any]
) -> InspectedImage | Skip:
    runnable_entry = select_runnable(index)
    if runnable_entry is None:
        return Skip("the image index has no linux/amd64 image")
    descriptors = image_descriptors(index)
    if len(descriptors) > MAX_PLATFORMS:  # never compare only some: the rest would go unseen
        raise TerminalError(
            f"the image index has {len(descriptors)} platform entries; at most "
            f"{MAX_PLATFORMS} are read"
        )
    per_platform: dict[str, dict[str, str]] = {}
    conflicts: dict[str, list[Violation]] = {}
    digests = []
    runnable: str | None = None
    for number, descriptor in enumerate(descriptors, start=1):
        child_digest = str(descriptor.get("digest", ""))
        child = reader.get_manifest(login_server, repository, child_digest)
        if classify_manifest(child, str(descriptor.get("mediaType") or "")) is not None:
            continue
        digests.append(child_digest)
        config = _config(reader, login_server, repository, child)
        # One name per entry: a second linux/amd64 entry (a variant, say) must not overwrite
        # the first one's labels, or only the last entry would be compared and approved.
        variant = str((descriptor.get("platform") or {}).get("variant") or "")
        platform = "/".join(
            (*platform_of(descriptor), variant) if variant else platform_of(descriptor)
        )
        if platform in per_platform:
            platform = f"{platform} (entry {number})"
        if runnable is None and descriptor is runnable_entry:
            runnable = platform
        per_platform[platform], conflicts[platform] = merge_label_sources(
            [
                ("index annotations", annotations_of(index)),
                ("manifest annotations", annotations_of(child)),
                ("image labels", labels_of(config)),
            ]
        )
    labels = per_platform.get(runnable) if runnable is not None else None
    if runnable is None or labels is None:
        return Skip("the linux/amd64 entry of the index is not a runnable image")
    problems = [*conflicts[runnable], *label_disagreements(per_platform)]
    return InspectedImage(labels, tuple(problems), tuple(digests))
