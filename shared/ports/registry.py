"""Registries: OCI documents read by digest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    pass


class RegistryReader(Protocol):
    """Reads OCI documents by digest from a registry of the catalog.

    Raises ``TransientError`` when the registry cannot be reached, ``TerminalError`` when the
    digest does not exist there.
    """

    def get_manifest(self, login_server: str, repository: str, digest: str) -> dict[str, Any]: ...

    def get_json_blob(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> dict[str, Any]: ...
