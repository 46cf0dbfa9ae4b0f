"""The region catalog: every cell Clearance runs, and what each cell may touch.

Terraform emits this document (output ``region_catalog``); each cell reads it from its app
settings. It is the single source of truth for which registries, storage accounts, clusters
and approvers belong to which region, and which regions a residency zone admits.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.domain.analysis.checks import AnalysisSettings
from shared.domain.deploy.chargeback import ChargebackPolicy
from shared.domain.deploy.expiry import ExpiryPolicy
from shared.domain.identity import IdentityRules
from shared.domain.supply_chain.policy import RegionSupplyChain

RegionName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{2,40}$")]
ZoneName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$")]
# A registry login server: host or host:port, lower case, as it appears in image references.
LoginServer = Annotated[
    str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$", max_length=260)
]
StorageAccountName = Annotated[str, Field(pattern=r"^[a-z0-9]{3,24}$")]
HttpsOrLocalUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$", max_length=2048)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Deployer(StrEnum):
    GITOPS = "gitops"
    KUBERNETES = "kubernetes"


class ResidencyZone(_Frozen):
    """A data-residency zone: the set of regions that data bound to it may be processed in."""

    description: str = ""
    regions: tuple[RegionName, ...] = Field(min_length=1)


class ApprovalPolicy(_Frozen):
    """Who must approve, how many of them, and for how long a request stays open."""

    approvers: tuple[EmailStr, ...] = ()
    approver_groups: tuple[Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")], ...] = ()
    min_approvals: int = Field(default=2, ge=1, le=20)
    expiry_hours: int = Field(default=72, ge=1, le=24 * 30)
    require_sign_in: bool = False
    # Entra object ids of listed approvers (address -> object id): a signed-in approver is then
    # matched by this immutable id, never by the e-mail claims.
    approver_object_ids: dict[EmailStr, Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]] = (
        Field(default_factory=dict)
    )

    @model_validator(mode="after")
    def _quorum_reachable(self) -> ApprovalPolicy:
        if not self.approvers and not self.approver_groups:
            raise ValueError("an approval policy needs at least one approver or approver group")
        if not self.approver_groups and self.min_approvals > len(set(self.approvers)):
            raise ValueError(
                f"min_approvals={self.min_approvals} can never be reached with "
                f"{len(set(self.approvers))} distinct approver(s)"
            )
        return self


class RegionApproval(_Frozen):
    default: ApprovalPolicy
    by_risk_tier: dict[RiskTier, ApprovalPolicy] = Field(default_factory=dict)

    def for_tier(self, tier: RiskTier) -> ApprovalPolicy:
        return self.by_risk_tier.get(tier, self.default)


class RegistryTarget(_Frozen):
    login_server: LoginServer
    resource_id: str | None = None


class StorageTarget(_Frozen):
    """The cell's own storage account. Endpoints default to the public Azure ones."""

    account_name: StorageAccountName
    blob_endpoint: HttpsOrLocalUrl | None = None
    queue_endpoint: HttpsOrLocalUrl | None = None
    table_endpoint: HttpsOrLocalUrl | None = None

    def endpoint(self, service: Literal["blob", "queue", "table"]) -> str:
        explicit = {
            "blob": self.blob_endpoint,
            "queue": self.queue_endpoint,
            "table": self.table_endpoint,
        }[service]
        return explicit or f"https://{self.account_name}.{service}.core.windows.net"


class ServiceBusTarget(_Frozen):
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]+$", max_length=260)]


SUPPORTED_KUBERNETES_VERSIONS = ("1.34", "1.35", "1.36")
SupportedKubernetesVersion = Literal["1.34", "1.35", "1.36"]


_ISSUER = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"
_KEYVAULT_CERTIFICATE = r"^https://[A-Za-z0-9.-]+/certificates/[A-Za-z0-9-]{1,127}(/[0-9a-f]{32})?$"


class IngressTls(_Frozen):
    """Where the serving Ingresses get their certificate: exactly one of a cert-manager
    ClusterIssuer or a Key Vault certificate (the AKS application-routing add-on)."""

    cluster_issuer: (
        Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")] | None
    ) = None
    keyvault_certificate_uri: (
        Annotated[
            str,
            Field(
                pattern=r"^https://[A-Za-z0-9.-]+/certificates/[A-Za-z0-9-]{1,127}(/[0-9a-f]{32})?$"
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _exactly_one(self) -> IngressTls:
        if (self.cluster_issuer is None) == (self.keyvault_certificate_uri is None):
            raise ValueError("set exactly one of cluster_issuer and keyvault_certificate_uri")
        return self


class AksTarget(_Frozen):
    cluster_name: str = Field(min_length=1, max_length=63)
    resource_group: str = Field(min_length=1, max_length=90)
    subscription_id: str | None = None
    api_server_url: HttpsOrLocalUrl | None = None
    # AKS minor versions in standard support; Terraform validates the same list
    # (tests/terraform/test_workload.py keeps them equal).
    kubernetes_version: SupportedKubernetesVersion = "1.35"
    namespace_mode: Literal["model", "team"] = "model"
    # The namespace of the ingress controller, the only one that may reach the serving port.
    ingress_namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] = (
        "app-routing-system"
    )
    ingress_tls: IngressTls | None = None


class AmlTarget(_Frozen):
    subscription_id: str = Field(min_length=1)
    resource_group: str = Field(min_length=1)
    workspace: str = Field(min_length=1, max_length=64)
    compute: str = Field(min_length=1, max_length=64)


class GitOpsTarget(_Frozen):
    repository_url: str = Field(min_length=1, max_length=2048)
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] = "main"
    path: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")] = "models"


class RegionEntry(_Frozen):
    name: RegionName
    residency_zone: ZoneName
    function_app_url: HttpsOrLocalUrl
    registry: RegistryTarget
    storage: StorageTarget
    service_bus: ServiceBusTarget
    approval: RegionApproval
    deployer: Deployer = Deployer.GITOPS
    aks: AksTarget | None = None
    aml: AmlTarget | None = None
    gitops: GitOpsTarget | None = None
    # Metric analysis of gated rollout steps; without it a gate checks readiness only.
    analysis: AnalysisSettings | None = None
    # Signatures and attestations required or shown, per risk tier (default: none required).
    supply_chain: RegionSupplyChain = RegionSupplyChain()
    # Cost hygiene: expiry of trial deployments, and the chargeback labels the region requires.
    expiry: ExpiryPolicy = ExpiryPolicy()
    chargeback: ChargebackPolicy = ChargebackPolicy()

    @model_validator(mode="after")
    def _deployer_has_target(self) -> RegionEntry:
        if self.deployer is Deployer.GITOPS and self.gitops is None:
            raise ValueError(f"region {self.name}: deployer 'gitops' needs a 'gitops' target")
        if self.deployer is Deployer.KUBERNETES and self.aks is None:
            raise ValueError(f"region {self.name}: deployer 'kubernetes' needs an 'aks' target")
        return self


class UnknownRegionError(KeyError):
    """A region name that the catalog does not list."""


class RegionCatalog(_Frozen):
    """Every region Clearance serves. Validated as a whole: zones, regions and registries agree."""

    schema_version: Literal[1] = 1
    residency_zones: dict[ZoneName, ResidencyZone] = Field(min_length=1)
    regions: tuple[RegionEntry, ...] = Field(min_length=1)
    identity: IdentityRules = Field(default_factory=IdentityRules)

    @model_validator(mode="after")
    def _consistent(self) -> RegionCatalog:
        problems: list[str] = []
        names = [r.name for r in self.regions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.append(f"duplicate region(s): {', '.join(duplicates)}")
        known = set(names)
        for zone_name, zone in self.residency_zones.items():
            missing = [r for r in zone.regions if r not in known]
            if missing:
                problems.append(f"residency zone {zone_name} names unknown region(s): {missing}")
        for region in self.regions:
            home = self.residency_zones.get(region.residency_zone)
            if home is None:
                problems.append(
                    f"region {region.name}: unknown residency zone {region.residency_zone!r} "
                    f"(known: {', '.join(sorted(self.residency_zones))})"
                )
            elif region.name not in home.regions:
                problems.append(
                    f"region {region.name}: its residency zone {region.residency_zone} "
                    "does not list it"
                )
        servers = [r.registry.login_server for r in self.regions]
        shared = sorted({s for s in servers if servers.count(s) > 1})
        if shared:
            problems.append(f"registry login server(s) used by more than one region: {shared}")
        accounts = [r.storage.account_name for r in self.regions]
        shared_accounts = sorted({a for a in accounts if accounts.count(a) > 1})
        if shared_accounts:
            problems.append(f"storage account(s) shared across regions: {shared_accounts}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    def region(self, name: str) -> RegionEntry:
        for entry in self.regions:
            if entry.name == name:
                return entry
        raise UnknownRegionError(name)

    def has_region(self, name: str) -> bool:
        return any(r.name == name for r in self.regions)

    def region_for_registry(self, login_server: str) -> RegionEntry | None:
        wanted = login_server.lower()
        return next((r for r in self.regions if r.registry.login_server == wanted), None)

    def zone_allows(self, zone: str, region: str) -> bool:
        entry = self.residency_zones.get(zone)
        return entry is not None and region in entry.regions


_JSON_POINTER_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def describe_validation_error(exc: Exception) -> list[str]:
    """Flatten a pydantic ValidationError into 'location: message' lines for operators."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [str(exc)]
    lines = []
    for err in errors():
        loc = ".".join(_JSON_POINTER_SAFE.sub("_", str(p)) for p in err.get("loc", ()))
        lines.append(f"{loc or '<catalog>'}: {err.get('msg', '')}")
    return lines
