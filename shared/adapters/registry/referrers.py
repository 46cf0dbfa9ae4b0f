"""SupplyChainReader over azure-containerregistry: referrers, tagged signatures, raw blobs.

The SDK has no referrers call, so it is one GET through the client's own pipeline (same
authentication, TLS and retries). docker-registry 2.8 answers 404 there: that means "no
referrers API", and discovery falls back to cosign's tag scheme. SDK errors become Clearance
errors here, as in ``acr.py``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.adapters.registry.acr import AcrRegistryReader
from shared.domain.errors import TerminalError, TransientError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class AcrSupplyChainReader(AcrRegistryReader):
    def get_manifest(self, login_server: str, repository: str, digest: str) -> dict[str, Any]:
        """A referrer's manifest: the digest comes from the registry's answer, so a manifest
        the SDK refuses (over 4 MB, digest mismatch) is a finding, not a crash."""
        from azure.containerregistry import DigestValidationError

        try:
            return super().get_manifest(login_server, repository, digest)
        except (DigestValidationError, ValueError, KeyError) as exc:
            raise TerminalError(f"{repository}@{digest} is not a readable manifest: {exc}") from exc

    def list_referrers(
        self, login_server: str, repository: str, digest: str, *, max_count: int
    ) -> list[dict[str, Any]]:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            "GET", f"/v2/{repository}/referrers/{digest}", headers={"Accept": OCI_INDEX}
        )
        try:
            response = self._client_for(login_server)._client.send_request(request)
            if response.status_code in (404, 405, 501):
                return []  # no referrers API: the tag scheme is the fallback
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientError(f"registry {login_server} answered {response.status_code}")
            if response.status_code != 200:
                raise TerminalError(f"referrers of {digest}: HTTP {response.status_code}")
            body = response.read()
        except AzureError as exc:
            raise TransientError(f"registry {login_server} unreachable: {exc}") from exc
        if len(body) > 1024 * 1024:
            raise TerminalError(f"the referrers list of {digest} is larger than 1 MiB")
        try:
            index = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TerminalError(f"the referrers list of {digest} is not JSON") from exc
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(manifests, list):
            return []
        return [m for m in manifests if isinstance(m, dict)][:max_count]

    def find_tagged_manifest(
        self, login_server: str, repository: str, tag: str, *, max_bytes: int
    ) -> tuple[str, dict[str, Any]] | None:
        from azure.containerregistry import DigestValidationError
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            result = self._client_for(login_server).get_manifest(repository, tag)
        except ResourceNotFoundError:
            return None
        except (DigestValidationError, ValueError, KeyError) as exc:
            raise TerminalError(f"{repository}:{tag} is not a readable manifest: {exc}") from exc
        except AzureError as exc:
            raise TransientError(f"registry {login_server} unreachable: {exc}") from exc
        manifest = dict(result.manifest)
        if len(json.dumps(manifest)) > max_bytes:
            raise TerminalError(f"{repository}:{tag} is larger than {max_bytes} bytes")
        return str(result.digest), manifest

    def get_blob_bytes(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> bytes:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        data = bytearray()
        try:
            for chunk in self._client_for(login_server).download_blob(repository, digest):
                data.extend(chunk)
                if len(data) > max_bytes:
                    raise TerminalError(f"blob {digest} is larger than {max_bytes} bytes")
        except ResourceNotFoundError as exc:
            raise TerminalError(f"blob {digest} does not exist in {login_server}") from exc
        except AzureError as exc:
            raise TransientError(f"registry {login_server} unreachable: {exc}") from exc
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or hashlib.sha256(data).hexdigest() != expected:
            raise TerminalError(f"blob {digest} does not match its digest")
        return bytes(data)
