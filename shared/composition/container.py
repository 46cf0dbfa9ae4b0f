"""The composition root: builds SDK clients on first use and caches them for the process.

Azure Functions imports every function module on cold start, so nothing here runs at import:
every client is created the first time a handler asks for it and then reused across
invocations (Microsoft's guidance for connection reuse). Heavy SDKs are imported inside the
property that needs them.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from shared.ports.lineage import BatchLineageWriter, CheckpointSigner, CheckpointVerifier
from shared.ports.mail import Mailer
from shared.ports.messaging import MessageBus
from shared.settings import BusKind, ConfigurationError, MailKind, Settings, get_settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from shared.adapters.storage.dead_letter_blobs import BlobDeadLetters
    from shared.services.approval.requests import ApprovalDeps
    from shared.services.intake.handlers import IntakeDeps


class Container:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._registry_clients: dict[str, Any] = {}
        self._intake: IntakeDeps | None = None
        self._approvals: ApprovalDeps | None = None
        self._sb_client: Any = None
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

    @cached_property
    def http_transport(self) -> Any:
        """The one HTTP transport (connection pool) of this cell's table and queue clients,
        sized for the host's concurrency, reading the environment once
        (``shared.adapters.http_pool``)."""
        from shared.adapters.http_pool import cell_transport

        return cell_transport(os.environ)

    @cached_property
    def blob_transport(self) -> Any:
        """The blob clients' one ``RequestsTransport`` (streamed downloads), pooled the same."""
        from shared.adapters.http_pool import requests_transport

        return requests_transport(os.environ)

    def _storage_kwargs(self, client: str, api_version: bool = True) -> dict[str, Any]:
        from shared.adapters.telemetry.sdk_requests import TracedTransport

        version = self.settings.storage_api_version
        # the shared pool, wrapped per client kind: one light span per request when traced
        shared = self.blob_transport if client == "BlobClient" else self.http_transport
        kwargs: dict[str, Any] = {"transport": TracedTransport(shared, client)}
        if version and api_version:
            kwargs["api_version"] = version
        return kwargs

    @cached_property
    def table_service(self) -> Any:
        from azure.data.tables import TableServiceClient

        conn = self.settings.storage_connection_string
        kwargs = self._storage_kwargs("TableClient", api_version=False)
        if conn is not None:
            return TableServiceClient.from_connection_string(conn.get_secret_value(), **kwargs)
        endpoint = self.settings.cell.storage.endpoint("table")
        return TableServiceClient(endpoint=endpoint, credential=self.credential, **kwargs)

    @cached_property
    def queue_service(self) -> Any:
        from azure.storage.queue import QueueServiceClient

        conn = self.settings.storage_connection_string
        if conn is not None:
            return QueueServiceClient.from_connection_string(
                conn.get_secret_value(), **self._storage_kwargs("QueueClient")
            )
        endpoint = self.settings.cell.storage.endpoint("queue")
        return QueueServiceClient(
            endpoint, credential=self.credential, **self._storage_kwargs("QueueClient")
        )

    @cached_property
    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        conn = self.settings.storage_connection_string
        if conn is not None:
            return BlobServiceClient.from_connection_string(
                conn.get_secret_value(), **self._storage_kwargs("BlobClient")
            )
        endpoint = self.settings.cell.storage.endpoint("blob")
        return BlobServiceClient(
            endpoint, credential=self.credential, **self._storage_kwargs("BlobClient")
        )

    @cached_property
    def bus(self) -> MessageBus:
        if self.settings.bus_kind is BusKind.STORAGE_QUEUE:
            from shared.adapters.storage.queue_bus import StorageQueueMessageBus

            return StorageQueueMessageBus(self.queue_service, self.table_service)
        from shared.adapters.servicebus.bus import ServiceBusMessageBus

        return ServiceBusMessageBus(self._servicebus_client())

    def _servicebus_client(self) -> Any:
        with self._lock:
            if self._sb_client is None:
                self._sb_client = self._new_servicebus_client()
            return self._sb_client

    def _new_servicebus_client(self) -> Any:
        """A client of its own (SDK clients are not thread-safe): the dead-letter reader's."""
        from azure.servicebus import ServiceBusClient

        conn = self.settings.servicebus_connection_string
        if conn is not None:
            return ServiceBusClient.from_connection_string(conn.get_secret_value())
        return ServiceBusClient(self.settings.cell.service_bus.namespace, self.credential)

    @cached_property
    def mailer(self) -> Mailer:
        s = self.settings
        if s.mail_sender is None:
            raise ConfigurationError("CLEARANCE_MAIL_SENDER: missing (needed to send mail)")
        if s.mail_kind is MailKind.SMTP:
            from shared.adapters.mail.smtp import SmtpMailer

            if s.smtp_host is None:
                raise ConfigurationError("CLEARANCE_SMTP_HOST: missing (CLEARANCE_MAIL_KIND=smtp)")
            return SmtpMailer(s.smtp_host, s.smtp_port, str(s.mail_sender))
        from shared.adapters.mail.acs import AcsMailer

        if s.acs_endpoint is None:
            raise ConfigurationError("CLEARANCE_ACS_ENDPOINT: missing (CLEARANCE_MAIL_KIND=acs)")
        return AcsMailer(s.acs_endpoint, self.credential, str(s.mail_sender))

    @cached_property
    def lineage(self) -> BatchLineageWriter:
        from shared.adapters.storage.lineage.writer import TableLineageWriter
        from shared.adapters.telemetry.spans import TracedLineage

        # each appended record puts its correlation on the invocation's span and its counts
        # into the metrics (a no-op without telemetry)
        return TracedLineage(TableLineageWriter(self.table_service, region=self.settings.cell.name))

    @cached_property
    def checkpoint_signer(self) -> CheckpointSigner:
        """Key Vault (``CLEARANCE_CHECKPOINT_KEY_ID``) or, locally, a key file."""
        s = self.settings
        if s.checkpoint_key_id:
            from shared.adapters.signing.keyvault import KeyVaultSigner

            return KeyVaultSigner(s.checkpoint_key_id, self.credential)
        if s.checkpoint_key_file is not None:
            from shared.adapters.signing.es256 import KeyFileSigner

            return KeyFileSigner(s.checkpoint_key_file)
        raise ConfigurationError(
            "CLEARANCE_CHECKPOINT_KEY_ID (or CLEARANCE_CHECKPOINT_KEY_FILE): missing "
            "(needed to sign lineage checkpoints)"
        )

    @cached_property
    def checkpoint_verifier(self) -> CheckpointVerifier:
        """The public key: a PEM file if configured, else the Key Vault key, else the key file's."""
        s = self.settings
        from shared.adapters.signing.es256 import KeyFileSigner, PublicKeyVerifier

        if s.checkpoint_public_key_file is not None:
            return PublicKeyVerifier.from_file(s.checkpoint_public_key_file)
        if s.checkpoint_key_id:
            from shared.adapters.signing.keyvault import key_vault_public_key

            return key_vault_public_key(s.checkpoint_key_id, self.credential)
        if s.checkpoint_key_file is not None:
            return KeyFileSigner(s.checkpoint_key_file).verifier()
        raise ConfigurationError(
            "CLEARANCE_CHECKPOINT_PUBLIC_KEY_FILE (or CLEARANCE_CHECKPOINT_KEY_ID): missing "
            "(needed to verify lineage checkpoints)"
        )

    @cached_property
    def dead_letters(self) -> BlobDeadLetters:
        from shared.adapters.storage.dead_letter_blobs import BlobDeadLetters

        return BlobDeadLetters(self.blob_service)

    @cached_property
    def bus_dead_letters(self) -> Any:
        from shared.adapters.servicebus.dead_letters import (
            ServiceBusDeadLetters,
            StorageQueueDeadLetters,
        )

        if self.settings.bus_kind is BusKind.STORAGE_QUEUE:
            return StorageQueueDeadLetters(self.queue_service)
        return ServiceBusDeadLetters(self._new_servicebus_client)

    def intake(self) -> IntakeDeps:
        from shared.adapters.registry.acr import AcrRegistryReader
        from shared.adapters.storage.intake_ledger import TableIntakeLedger
        from shared.services.intake.handlers import IntakeDeps

        if self._intake is None:
            s = self.settings
            self._intake = IntakeDeps(
                region=s.cell.name,
                catalog=s.catalog,
                registry=AcrRegistryReader(self.registry_client),
                ledger=TableIntakeLedger(self.table_service),
                lineage=self.lineage,
                bus=self.bus,
                mailer=self.rejection_mailer,
                platform_email=str(s.platform_email) if s.platform_email else None,
                rejections=self.rejections,
                withdraw=self._withdraw,
                registrants=self.registrants,
                evidence=self.supply_chain_reader(),
            )
        return self._intake

    @cached_property
    def rejections(self) -> Any:
        from shared.adapters.storage.intake_ledger import TableRejectionRegistry

        return TableRejectionRegistry(self.table_service)

    def _withdraw(self, approval_id: str, reason: Any) -> object:
        from shared.services.approval.requests import cancel_request

        return cancel_request(approval_id, reason, self.approvals())

    @cached_property
    def digest_store(self) -> Any:
        from shared.adapters.storage.mail_digests import TableDigestStore

        return TableDigestStore(self.table_service)

    @cached_property
    def rejection_mailer(self) -> Mailer:
        """Rejections are aggregated per address (a burst of pushes is not a burst of mail)."""
        if self.settings.mail_digest_window_seconds == 0:
            return self.mailer
        from shared.services.mail_digest import DigestingMailer

        return DigestingMailer(self.mailer, self.digest_store)

    @cached_property
    def registrants(self) -> Any:
        """Who registered an Azure ML model: the workspace (azure-ai-ml), or a local directory."""
        if self.settings.aml_registrants_dir is not None:
            from shared.adapters.aml.registrant import LocalRegistrants

            return LocalRegistrants(self.settings.aml_registrants_dir)
        from shared.adapters.aml.registrant import AmlRegistrants

        return AmlRegistrants(self.credential)

    def supply_chain_reader(self) -> Any:
        """Signatures and attestations, read through the same registry clients."""
        from shared.adapters.registry.referrers import AcrSupplyChainReader

        return AcrSupplyChainReader(self.registry_client)

    def approvals(self) -> ApprovalDeps:
        from shared.adapters.storage.approvals import TableApprovalStore
        from shared.adapters.storage.deployment_state import TableDeploymentStateStore
        from shared.domain.approval.links import LinkSigner
        from shared.services.approval.requests import ApprovalDeps

        if self._approvals is None:
            s = self.settings
            url = s.teams_webhook_url
            deployments = TableDeploymentStateStore(self.table_service)
            self._approvals = ApprovalDeps(
                cell=s.cell,
                store=TableApprovalStore(self.table_service),
                lineage=self.lineage,
                bus=self.bus,
                mailer=self.mailer,
                signer=LinkSigner(s.link_signing_keys()),
                teams=_teams(url.get_secret_value()) if url else None,
                rejections=self.rejections,
                live_revision=lambda region, model: deployments.get(region, model)[0].live,
                identity=s.catalog.identity,
                directory=self.directory,
                platform_email=str(s.platform_email) if s.platform_email else None,
                tenant_id=s.tenant_id.lower() if s.tenant_id else None,
                after_decision=self.decision_checkpoints.request,
                stage_state=TableDeploymentStateStore(self.table_service),
                time_scale=s.deploy_time_scale,
            )
        return self._approvals

    def status(self) -> Any:
        """The cell's status now (``clearance status``, the cell_status timer's gauges)."""
        from datetime import UTC, datetime

        from shared.adapters.storage.cell_status import StorageStatusSource
        from shared.services.cell_status import cell_status

        queues = self.queue_service if self.settings.bus_kind is BusKind.STORAGE_QUEUE else None
        region = self.settings.cell.name
        source = StorageStatusSource(region, self.table_service, self.blob_service, queues)
        return cell_status(region, source, datetime.now(UTC))

    def approval_trace(self, approval_id: str) -> str | None:
        """The traceparent an approval was opened in (the review continues that trace)."""
        if not approval_id or len(approval_id) > 128:
            return None
        store: Any = self.approvals().store
        lookup = getattr(store, "traceparent", None)
        return lookup(approval_id) if lookup is not None else None

    @cached_property
    def directory(self) -> Any:
        """Approver groups' members: Graph in Azure, a JSON document locally, or None."""
        s = self.settings
        if s.directory_kind == "none":
            return None
        if s.directory_kind == "file":
            from shared.adapters.directory.local_file import FileDirectory

            if s.directory_file is None:
                raise ConfigurationError(
                    "CLEARANCE_DIRECTORY_FILE: missing (CLEARANCE_DIRECTORY_KIND=file)"
                )
            return FileDirectory(s.directory_file)
        from shared.adapters.directory.graph import GraphDirectory

        return GraphDirectory(self.credential)

    def take_checkpoint(self, only: frozenset[str] | None = None) -> Any:
        """Sign a checkpoint of this cell's chain heads if any head moved (the timer's work);
        ``only``: of these chains' heads, the rest as the newest checkpoint has them."""
        from shared.services.lineage.heads import take_checkpoint

        own, lock = self._checkpoint_parts
        return take_checkpoint(
            own.reader,
            own.heads,
            self.checkpoint_signer,
            self.checkpoint_verifier,
            own.region,
            lineage=self.lineage,
            lock=lock,
            only=only,
        )

    @cached_property
    def _checkpoint_parts(self) -> tuple[Any, Any]:
        """This cell's lineage reader and checkpoint store, and the writers' lock: built once,
        so a checkpoint does not create the table or container again."""
        from shared.adapters.storage.lineage.checkpoint_lock import TableCheckpointLock
        from shared.adapters.storage.lineage.regions import region_lineage

        own = region_lineage(self.settings.cell.name, self.table_service, self.blob_service)
        return own, TableCheckpointLock(self.table_service)

    @cached_property
    def decision_checkpoints(self) -> Any:
        """A signed checkpoint right after each decision, off the vote's request path."""
        from shared.services.lineage.heads import CheckpointSoon

        return CheckpointSoon(self.checkpoint_now)

    def checkpoint_now(self, chains: frozenset[str] | None = None) -> None:
        """Sign a lineage checkpoint now (after a decision: of the decided ``chains``); the
        timer retries any failure."""
        from shared.domain.errors import ClearanceError

        try:
            self.take_checkpoint(chains)
        except (ClearanceError, ConfigurationError) as exc:
            log.warning("no lineage checkpoint after the decision (the timer will sign): %s", exc)

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

        from shared.adapters.telemetry.sdk_requests import request_span_policy

        policies: list[Any] = [request_span_policy("ContainerRegistryClient")]
        kwargs: dict[str, Any] = {"per_call_policies": policies}
        if self.settings.registry_ca_file is not None:
            kwargs["connection_verify"] = str(self.settings.registry_ca_file)
        credential = None if self.settings.registry_anonymous else self.credential
        if self.settings.registry_username and self.settings.registry_password:
            from shared.adapters.registry.basic_auth import BasicAuthPolicy

            password = self.settings.registry_password.get_secret_value()
            policies.append(BasicAuthPolicy(self.settings.registry_username, password))
            credential = None
        return ContainerRegistryClient(
            f"https://{login_server}",
            credential,
            audience="https://containerregistry.azure.net",
            **kwargs,
        )


def _teams(url: str) -> Any:
    from shared.adapters.teams.webhook import TeamsWebhook

    try:
        return TeamsWebhook(url)
    except ValueError as exc:  # e.g. a Key Vault reference that did not resolve
        raise ConfigurationError(f"CLEARANCE_TEAMS_WEBHOOK_URL: {exc}") from exc


@lru_cache(maxsize=1)
def get_container() -> Container:
    """The process-wide container (one per Functions worker process)."""
    return Container()
