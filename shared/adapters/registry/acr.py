"""RegistryReader over azure-containerregistry: manifests and config blobs, read by digest.

Managed identity in Azure; anonymous with the local CA on the local stack (composition root).
SDK errors become Clearance errors here: unreachable, throttled or refused credentials ->
TransientError (the event is replayable once the role is fixed); unknown digest, a manifest
over the SDK's 4 MB limit or content that does not match its digest (``ValueError`` /
``DigestValidationError``, raised by the SDK's own checks) -> TerminalError.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from shared.domain import bounded_json
from shared.domain.errors import TerminalError, TransientError


class AcrRegistryReader:
    def __init__(self, client_for: Callable[[str], Any]) -> None:
        self._client_for = client_for

    def get_manifest(self, login_server: str, repository: str, digest: str) -> dict[str, Any]:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            result = self._client_for(login_server).get_manifest(repository, digest)
        except ResourceNotFoundError as exc:
            raise TerminalError(f"{repository}@{digest} does not exist in {login_server}") from exc
        except (ValueError, RecursionError) as exc:
            # The SDK parses the manifest with json.loads (RecursionError when nested deeper
            # than Python's limit) and raises ValueError (DigestValidationError among them)
            # for a manifest over 4 MB or not matching its digest: no retry changes that.
            raise TerminalError(
                f"the manifest {repository}@{digest} is refused as unreadable: {str(exc)[:200]}"
            ) from exc
        except AzureError as exc:
            raise TransientError(f"registry {login_server} unreachable: {exc}") from exc
        manifest = dict(result.manifest)
        manifest.setdefault("mediaType", result.media_type)
        return manifest

    def get_json_blob(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> dict[str, Any]:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            stream = self._client_for(login_server).download_blob(repository, digest)
            data = bytearray()
            for chunk in stream:
                data.extend(chunk)
                if len(data) > max_bytes:
                    raise TerminalError(f"blob {digest} is larger than {max_bytes} bytes")
        except ResourceNotFoundError as exc:
            raise TerminalError(f"blob {digest} does not exist in {login_server}") from exc
        except ValueError as exc:  # DigestValidationError while streaming
            raise TerminalError(f"blob {digest} refused: {exc}") from exc
        except AzureError as exc:
            raise TransientError(f"registry {login_server} unreachable: {exc}") from exc
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or hashlib.sha256(data).hexdigest() != expected:
            raise TerminalError(f"blob {digest} does not match its digest")
        try:
            doc = bounded_json.loads(bytes(data), max_bytes=max_bytes)
        except ValueError as exc:  # not UTF-8, not JSON, or past the depth limit
            raise TerminalError(f"blob {digest} is not JSON") from exc
        if not isinstance(doc, dict):
            raise TerminalError(f"blob {digest} is not a JSON object")
        return doc
