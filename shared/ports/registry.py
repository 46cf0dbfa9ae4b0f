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


class SupplyChainReader(Protocol):
    """What signature discovery reads besides manifests: referrers, tags and raw blobs.

    Every read is bounded: ``max_bytes`` / ``max_count`` are enforced while reading, and a
    larger document raises ``TerminalError``.
    """

    def get_manifest(self, login_server: str, repository: str, digest: str) -> dict[str, Any]: ...

    def list_referrers(
        self, login_server: str, repository: str, digest: str, *, max_count: int
    ) -> list[dict[str, Any]]:
        """The OCI referrers of ``digest`` (descriptors); empty when there are none or the
        registry has no referrers API (docker-registry 2.8)."""
        ...

    def find_tagged_manifest(
        self, login_server: str, repository: str, tag: str, *, max_bytes: int
    ) -> tuple[str, dict[str, Any]] | None:
        """The manifest a tag points to and its digest, or ``None`` when the tag does not exist."""
        ...

    def get_blob_bytes(
        self, login_server: str, repository: str, digest: str, *, max_bytes: int
    ) -> bytes: ...
