"""Third-party OCI clients for the integration tests: images built with ``umoci``, pushed with
``skopeo`` (both from Debian, installed by ``scripts/bootstrap``).

Every ``skopeo`` call goes through ``run_skopeo``: that is the one place where registry
credentials (``--dest-creds``) and the local CA (``--dest-cert-dir``) are added.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"


def require_tools() -> None:
    missing = [tool for tool in ("umoci", "skopeo") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (scripts/bootstrap installs them)")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def run_skopeo(
    args: Sequence[str], *, cert_dir: Path, creds: Credentials | None = None
) -> subprocess.CompletedProcess[str]:
    """``skopeo copy ...`` trusting the local CA; ``creds`` for a registry that requires them.

    ``args[0]`` is the subcommand (``copy``): the destination options follow it."""
    command = ["skopeo", "--insecure-policy", *args[:1], "--dest-cert-dir", str(cert_dir)]
    if creds is not None:
        command += ["--dest-creds", f"{creds.username}:{creds.password}"]
    command += list(args[1:])
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


def cert_dir_for(ca_file: Path, directory: Path) -> Path:
    """skopeo reads CA certificates as ``*.crt`` files of a directory."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_file, directory / "ca.crt")
    return directory


def push(
    layout: Path,
    ref: str,
    destination: str,
    *,
    cert_dir: Path,
    creds: Credentials | None = None,
    manifest_format: str | None = None,
    all_platforms: bool = False,
) -> None:
    """``skopeo copy oci:LAYOUT:REF docker://DESTINATION`` (``--all`` for an index)."""
    args = ["copy", "--retry-times", "2"]
    if manifest_format:
        args += ["--format", manifest_format]
    if all_platforms:
        args.append("--all")
    run_skopeo(
        [*args, f"oci:{layout}:{ref}", f"docker://{destination}"], cert_dir=cert_dir, creds=creds
    )


def _umoci(*args: str) -> None:
    subprocess.run(["umoci", *args], check=True, capture_output=True, text=True, timeout=60)


def build_image(
    layout: Path,
    ref: str,
    labels: Mapping[str, str],
    *,
    platform: tuple[str, str] = ("linux", "amd64"),
    annotations: Mapping[str, str] | None = None,
    payload: bytes = b"model weights would live here\n",
) -> None:
    """A one-layer image ``LAYOUT:REF`` whose config carries ``labels``, built by umoci."""
    if not (layout / "index.json").exists():
        _umoci("init", "--layout", str(layout))
    _umoci("new", "--image", f"{layout}:{ref}")
    weights = layout.parent / f"{ref}-model.txt"
    weights.write_bytes(payload + ref.encode())
    _umoci("insert", "--rootless", "--image", f"{layout}:{ref}", str(weights), "/srv/model.txt")
    config = ["config", "--image", f"{layout}:{ref}", "--os", platform[0]]
    config += ["--architecture", platform[1], "--config.exposedports", "8080/tcp"]
    for key, value in labels.items():
        config += ["--config.label", f"{key}={value}"]
    for key, value in (annotations or {}).items():
        config += ["--manifest.annotation", f"{key}={value}"]
    _umoci(*config)


def build_index(layout: Path, ref: str, children: Mapping[tuple[str, str], str]) -> str:
    """An OCI image index ``LAYOUT:REF`` over images built before (umoci has no index
    command, so the index blob is written into the layout as the OCI spec lays it out)."""
    index_json = json.loads((layout / "index.json").read_text())
    by_ref = {
        m["annotations"]["org.opencontainers.image.ref.name"]: m
        for m in index_json["manifests"]
        if "org.opencontainers.image.ref.name" in (m.get("annotations") or {})
    }
    manifests = [
        {
            "mediaType": by_ref[child]["mediaType"],
            "digest": by_ref[child]["digest"],
            "size": by_ref[child]["size"],
            "platform": {"os": os_, "architecture": arch},
        }
        for (os_, arch), child in children.items()
    ]
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests}
    ).encode()
    digest = hashlib.sha256(body).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(body)
    index_json["manifests"].append(
        {
            "mediaType": INDEX_MEDIA_TYPE,
            "digest": f"sha256:{digest}",
            "size": len(body),
            "annotations": {"org.opencontainers.image.ref.name": ref},
        }
    )
    (layout / "index.json").write_text(json.dumps(index_json))
    return f"sha256:{digest}"


def layout_digest(layout: Path, ref: str) -> str:
    """The manifest digest of ``LAYOUT:REF`` (what skopeo pushes when it converts nothing)."""
    index_json = json.loads((layout / "index.json").read_text())
    for m in index_json["manifests"]:
        if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref:
            return str(m["digest"])
    raise KeyError(ref)
