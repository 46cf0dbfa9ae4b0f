"""The composition root: builds SDK clients on first use and caches them for the process.

Azure Functions imports every function module on cold start, so nothing here runs at import:
every client is created the first time a handler asks for it and then reused across
invocations (Microsoft's guidance for connection reuse). Heavy SDKs are imported inside the
property that needs them.
"""

from __future__ import annotations

import threading
from functools import cached_property, lru_cache
from typing import Any

from shared.ports import MessageBus
from shared.settings import BusKind, Settings, get_settings


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._registry_clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @cached_property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    @cached_property
    def credential(self) -> Any:
        """Managed identity in Azure; developer credentials (az login) elsewhere."""
        from azure.identity import DefaultAzureCredential

        client_id = self.settings.managed_identity_client_id
        return DefaultAzureCredential(managed_identity_client_id=client_id)

    def _storage_kwargs(self) -> dict[str, Any]:
        version = self.settings.storage_api_version
        return {"api_version": version} if version else {}

    @cached_property
    def table_service(self) -> Any:
        from azure.data.tables import TableServiceClient

        conn = self.settings.storage_connection_string
        if conn is not None:
            return TableServiceClient.from_connection_string(conn.get_secret_value())
        endpoint = self.settings.cell.storage.endpoint("table")
        return TableServiceClient(endpoint=endpoint, credential=self.credential)

    @cached_property
    def queue_service(self) -> Any:
        from azure.storage.queue import QueueServiceClient

        conn = self.settings.storage_connection_string
        if conn is not None:
            return QueueServiceClient.from_connection_string(
                conn.get_secret_value(), **self._storage_kwargs()
            )
        endpoint = self.settings.cell.storage.endpoint("queue")
        return QueueServiceClient(endpoint, credential=self.credential, **self._storage_kwargs())

    @cached_property
    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        conn = self.settings.storage_connection_string
        if conn is not None:
            return BlobServiceClient.from_connection_string(
                conn.get_secret_value(), **self._storage_kwargs()
            )
        endpoint = self.settings.cell.storage.endpoint("blob")
        return BlobServiceClient(endpoint, credential=self.credential, **self._storage_kwargs())

    @cached_property
    def bus(self) -> MessageBus:
        if self.settings.bus_kind is BusKind.STORAGE_QUEUE:
            from shared.adapters.storage_queue_bus import StorageQueueMessageBus

            return StorageQueueMessageBus(self.queue_service, self.table_service)
        from azure.servicebus import ServiceBusClient

        from shared.adapters.servicebus_bus import ServiceBusMessageBus

        conn = self.settings.servicebus_connection_string
        if conn is not None:
            client = ServiceBusClient.from_connection_string(conn.get_secret_value())
        else:
            client = ServiceBusClient(self.settings.cell.service_bus.namespace, self.credential)
        return ServiceBusMessageBus(client)

    def registry_client(self, login_server: str) -> Any:
        """A ContainerRegistryClient for one registry of the catalog, cached per server."""
        with self._lock:
            client = self._registry_clients.get(login_server)
            if client is None:
                client = self._build_registry_client(login_server)
                self._registry_clients[login_server] = client
            return client

    def _build_registry_client(self, login_server: str) -> Any:
        from azure.containerregistry import ContainerRegistryClient

        kwargs: dict[str, Any] = {}
        if self.settings.registry_ca_file is not None:
            kwargs["connection_verify"] = str(self.settings.registry_ca_file)
        credential = None if self.settings.registry_anonymous else self.credential
        return ContainerRegistryClient(
            f"https://{login_server}",
            credential,
            audience="https://containerregistry.azure.net",
            **kwargs,
        )


@lru_cache(maxsize=1)
def get_container() -> Container:
    """The process-wide container (one per Functions worker process)."""
    return Container()
