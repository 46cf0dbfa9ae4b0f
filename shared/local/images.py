"""Build and push small but real OCI images (config with labels + one layer) to a registry.

Used by `clearance push-sample`, the tests and the benchmarks, through the same
``azure-containerregistry`` client that reads images in Azure.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class PushedManifest:
    digest: str
    size: int
    media_type: str
    platform: tuple[str, str] | None = None


def _layer(content: bytes) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("srv/model.txt")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    return gzip.compress(tar_bytes, mtime=0), diff_id


def _upload(client: Any, repository: str, data: bytes) -> tuple[str, int]:
    digest, size = client.upload_blob(repository, io.BytesIO(data))
    return str(digest), int(size)


def push_image(
    client: Any,
    repository: str,
    labels: Mapping[str, str],
    *,
    tag: str | None = None,
    platform: tuple[str, str] = ("linux", "amd64"),
    payload: bytes = b"model weights would live here\n",
    artifact_type: str | None = None,
    config_media_type: str = OCI_CONFIG,
    before_manifest: Callable[[str], object] | None = None,
) -> PushedManifest:
    """Push a runnable-looking image whose config carries ``labels``; returns its manifest."""
    layer, diff_id = _layer(payload)
    config = {
        "architecture": platform[1],
        "os": platform[0],
        "config": {"Labels": dict(labels), "ExposedPorts": {"8080/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest, config_size = _upload(client, repository, config_bytes)
    layer_digest, layer_size = _upload(client, repository, layer)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_media_type, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
    }
    if artifact_type:
        manifest["artifactType"] = artifact_type
    body = json.dumps(manifest, sort_keys=True).encode()
    if before_manifest is not None:  # e.g. sign the digest before the push event is raised
        before_manifest("sha256:" + hashlib.sha256(body).hexdigest())
    digest = client.set_manifest(repository, io.BytesIO(body), tag=tag, media_type=OCI_MANIFEST)
    return PushedManifest(str(digest), len(body), OCI_MANIFEST, platform)


def push_index(
    client: Any, repository: str, manifests: Sequence[PushedManifest], *, tag: str | None = None
) -> PushedManifest:
    """Push a multi-platform image index over already pushed manifests."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": m.media_type,
                "digest": m.digest,
                "size": m.size,
                **(
                    {"platform": {"os": m.platform[0], "architecture": m.platform[1]}}
                    if m.platform
                    else {}
                ),
            }
            for m in manifests
        ],
    }
    body = json.dumps(index, sort_keys=True).encode()
    digest = client.set_manifest(repository, io.BytesIO(body), tag=tag, media_type=OCI_INDEX)
    return PushedManifest(str(digest), len(body), OCI_INDEX)
