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
from shared.domain.deploy.windows import ChangeWindows
from shared.domain.identity import IdentityRules
from shared.domain.metadata.rollout import RolloutStrategy
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


StageName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")]
DEFAULT_STAGE = "prod"


class Stage(_Frozen):
    """One stage of a region (``staging``, ``prod``): its own target, approvals, defaults,
    analysis, change windows, and how long a version must hold here before it may move on.

    Unset targets and analysis inherit the region's. ``approval`` None: no human approval
    (intake validation, or for a later stage the previous stage's verification, suffices).
    ``production`` defaults to true for the region's last stage only.
    """

    name: StageName
    production: bool | None = None
    approval: RegionApproval | None = None
    aks: AksTarget | None = None
    gitops: GitOpsTarget | None = None
    aml: AmlTarget | None = None
    # Kubernetes namespaces of this stage start with this prefix (``staging-model-fraud``);
    # Azure ML endpoints of this stage carry it as a suffix. None: the region's names.
    name_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,9}$")] | None = None
    analysis: AnalysisSettings | None = None
    # The strategy for models whose metadata keeps the built-in default (rolling), e.g. a
    # canary with its steps for production.
    default_strategy: RolloutStrategy | None = None
    # How long the version must run here, analysis passing and no rollback, before promotion.
    bake_minutes: int = Field(default=60, ge=0, le=60 * 24 * 30)
    # Promote to the next stage on its own once verified (the next stage's approvals apply).
    auto_promote: bool = False
    windows: ChangeWindows = ChangeWindows()


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
    # Ordered stages; none listed: one production stage ``prod`` on the region's own targets.
    stages: tuple[Stage, ...] = Field(default=(), max_length=8)

    @model_validator(mode="after")
    def _deployer_has_target(self) -> RegionEntry:
        if self.deployer is Deployer.GITOPS and self.gitops is None:
            raise ValueError(f"region {self.name}: deployer 'gitops' needs a 'gitops' target")
        if self.deployer is Deployer.KUBERNETES and self.aks is None:
            raise ValueError(f"region {self.name}: deployer 'kubernetes' needs an 'aks' target")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"region {self.name}: stage names repeat: {names}")
        views = [(s, self.for_stage(s.name)) for s in self.stages]
        for kind, key in (("GitOps path", _gitops_key), ("namespace", _namespace_key)):
            keys = [k for k in (key(s, v) for s, v in views) if k is not None]
            if len(set(keys)) != len(keys):
                raise ValueError(
                    f"region {self.name}: two stages share one {kind}; give each stage its "
                    "own target (gitops.path, aks, or name_prefix)"
                )
        return self

    @property
    def stage_list(self) -> tuple[Stage, ...]:
        """The stages in order, each with ``production`` resolved (last stage by default)."""
        if not self.stages:
            return (Stage(name=DEFAULT_STAGE, production=True, bake_minutes=0),)
        last = len(self.stages) - 1
        return tuple(
            s if s.production is not None else s.model_copy(update={"production": i == last})
            for i, s in enumerate(self.stages)
        )

    @property
    def staged(self) -> bool:
        """The catalog lists stages for this region (else: one implicit ``prod`` stage)."""
        return bool(self.stages)

    def stage(self, name: str | None) -> Stage:
        """The named stage; None: the first. Raises ``UnknownStageError``."""
        stages = self.stage_list
        if name is None:
            return stages[0]
        for s in stages:
            if s.name == name:
                return s
        raise UnknownStageError(f"region {self.name} has no stage {name!r}")

    def stage_index(self, name: str | None) -> int:
        wanted = self.stage(name).name
        return next(i for i, s in enumerate(self.stage_list) if s.name == wanted)

    def next_stage(self, name: str | None) -> Stage | None:
        i = self.stage_index(name)
        stages = self.stage_list
        return stages[i + 1] if i + 1 < len(stages) else None

    def previous_stage(self, name: str | None) -> Stage | None:
        i = self.stage_index(name)
        return self.stage_list[i - 1] if i > 0 else None

    def stage_approval(self, name: str | None, tier: RiskTier) -> ApprovalPolicy | None:
        """Who approves a deployment to the stage: the stage's policy, else the region's; None
        for a stage that needs no human approval. A region without stages: its own policy."""
        if not self.stages:
            return self.approval.for_tier(tier)
        stage = self.stage(name)
        return stage.approval.for_tier(tier) if stage.approval is not None else None

    def for_stage(self, name: str | None) -> RegionEntry:
        """This entry as the stage's deployer sees it: the stage's targets and analysis in
        place of the region's (unset ones inherited). The region itself for no stages."""
        if not self.stages:
            return self
        stage = self.stage(name)
        update: dict[str, object] = {}
        for attr in ("aks", "gitops", "aml", "analysis"):
            value = getattr(stage, attr)
            if value is not None:
                update[attr] = value
        if stage.approval is not None:
            update["approval"] = stage.approval
        return self.model_copy(update=update)


class UnknownStageError(KeyError):
    """A stage name that the region does not list."""


def _gitops_key(stage: Stage, entry: RegionEntry) -> str | None:
    g = entry.gitops
    if g is None or entry.deployer is not Deployer.GITOPS:
        return None
    return f"{g.repository_url}|{g.branch}|{g.path}"


def _namespace_key(stage: Stage, entry: RegionEntry) -> str | None:
    if entry.deployer is Deployer.GITOPS or entry.aks is None:
        return None
    return f"{entry.aks.resource_group}/{entry.aks.cluster_name}|{stage.name_prefix or ''}"


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
        problems += _stage_residency(self.regions)
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


def _stage_residency(regions: tuple[RegionEntry, ...]) -> list[str]:
    """Every stage's cluster and Azure ML workspace belong to its own region only: no stage of
    one region may deploy onto a target another region (or one of its stages) uses."""
    owner: dict[str, str] = {}
    problems: list[str] = []
    for region in regions:
        targets: set[str] = set()
        for stage in region.stage_list:
            view = region.for_stage(stage.name)
            if view.aks is not None:
                targets.add(f"AKS cluster {view.aks.resource_group}/{view.aks.cluster_name}")
            if view.aml is not None:
                targets.add(f"Azure ML workspace {view.aml.resource_group}/{view.aml.workspace}")
        for target in sorted(targets):
            other = owner.setdefault(target, region.name)
            if other != region.name:
                problems.append(
                    f"region {region.name}: a stage deploys to {target}, which region {other} "
                    "uses (every stage stays in its own region)"
                )
    return problems


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
