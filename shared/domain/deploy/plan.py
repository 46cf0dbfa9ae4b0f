"""What to run, where, with which strategy, and what it replaces: the pure deployment plan.

``build_plan`` turns an approved ``DeploymentRequest`` and the cell's catalog entry into a plan,
or refuses with a ``PlanError``: a cell deploys only to its own region, an image only from its
own region's registry and only by digest, an AML model only from its own region's workspace.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.domain.catalog import AksTarget, AmlTarget, GitOpsTarget, RegionEntry
from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.k8s_names import dns_label
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import Revision, Track
from shared.domain.metadata.model import ModelMetadata
from shared.domain.metadata.rollout import BlueGreen, Rolling, RolloutStrategy
from shared.domain.metadata.value_rules import first_control_character

DEFAULT_KUBERNETES_VERSION = "1.35"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
# Approval ids travel into commit trailers and annotations: printable ASCII, no spaces.
_APPROVAL_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


class DriverKind(StrEnum):
    GITOPS = "gitops"
    KUBERNETES = "kubernetes"
    AML = "aml"


class DeploymentPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment_id: str
    region: str
    driver: DriverKind
    release: Revision
    replaces: Revision | None
    strategy: RolloutStrategy
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    aks: AksTarget | None = None
    gitops: GitOpsTarget | None = None
    aml: AmlTarget | None = None
    rollback_of: str | None = None
    requested_by: str | None = None
    stage: str = "prod"
    name_prefix: str | None = None  # the stage's prefix of namespaces and AML endpoints

    @property
    def model(self) -> str:
        return self.release.metadata.name

    @property
    def metadata(self) -> ModelMetadata:
        return self.release.metadata

    @property
    def namespace(self) -> str:
        return self.release.namespace

    @property
    def is_rollback(self) -> bool:
        return self.rollback_of is not None


def deployment_id_for(
    approval_id: str, region: str, rollback_of: str | None = None, stage: str | None = None
) -> str:
    """Stable across redeliveries; a rollback of the same approval gets its own id, and so does
    each stage (a region without stages keeps the ids it always had)."""
    key = f"{approval_id}|{region}|{rollback_of or ''}" + (f"|{stage}" if stage else "")
    return "dep-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def namespace_for(metadata: ModelMetadata, mode: str, prefix: str | None = None) -> str:
    """One namespace per model, or per team; prefixed so no model lands in a system namespace
    (and, for a stage with a ``name_prefix``, by the stage: ``staging-model-fraud``)."""
    if mode == "team" and metadata.team is not None:
        base = dns_label("team", metadata.team)
    else:
        base = dns_label("model", metadata.name)
    return dns_label(prefix, base) if prefix else base


def driver_for(metadata: ModelMetadata, cell: RegionEntry) -> DriverKind:
    if metadata.kind == "aml_model":
        return DriverKind.AML
    return DriverKind(cell.deployer.value)


def build_plan(
    request: DeploymentRequest,
    cell: RegionEntry,
    live: Revision | None,
    restoring: Revision | None = None,
) -> DeploymentPlan:
    """The plan for ``request`` in ``cell``, replacing ``live``.

    For a rollback, ``restoring`` is the revision to bring back: it runs as it ran before,
    with the fast strategy (rolling), and the plan replaces what is live now.
    """
    metadata = request.metadata
    _check_placement(request, cell)
    _check_approval(request)
    stage = cell.stage(request.stage)  # UnknownStageError for a stage the region lacks
    prefix = stage.name_prefix
    cell = cell.for_stage(stage.name)
    driver = driver_for(metadata, cell)
    aks = cell.aks
    namespace = namespace_for(metadata, aks.namespace_mode if aks else "model", prefix)
    deployment_id = deployment_id_for(
        request.approval_id, cell.name, request.rollback_of, request.stage
    )
    if driver is DriverKind.AML:
        _check_aml(request, cell)
    else:
        _check_image(request, cell)
        if live is not None and live.namespace != namespace:
            raise PlanError(
                DeployCode.NAMESPACE_CHANGED,
                f"{metadata.name} runs in namespace {live.namespace}, this version would run in "
                f"{namespace} (team or namespace mode changed); retire it there first.",
            )
    strategy: RolloutStrategy = _stage_strategy(metadata, stage.default_strategy)
    if restoring is not None:
        release = restoring.model_copy(
            update={
                "deployment_id": deployment_id,
                "since": None,
                "where": {},
                "restored_from": restoring.restored_from or restoring.deployment_id,
            }
        )
        strategy = Rolling()
    else:
        workload, track = _workload(metadata, driver, strategy, live)
        release = Revision(
            deployment_id=deployment_id,
            approval_id=request.approval_id,
            approved_by=request.approved_by,
            approved_at=request.approved_at,
            artifact=request.artifact,
            metadata=metadata,
            namespace=namespace,
            workload=workload,
            track=track,
            stage=stage.name,
        )
    return DeploymentPlan(
        deployment_id=deployment_id,
        region=cell.name,
        driver=driver,
        release=release,
        replaces=live,
        strategy=strategy,
        kubernetes_version=aks.kubernetes_version if aks else DEFAULT_KUBERNETES_VERSION,
        aks=aks,
        gitops=cell.gitops,
        aml=cell.aml,
        rollback_of=request.rollback_of,
        requested_by=request.requested_by,
        stage=stage.name,
        name_prefix=prefix,
    )


def removal_plan(cell: RegionEntry, stage: str, live: Revision, by: str) -> DeploymentPlan:
    """The plan a driver's ``remove`` takes ``live`` out of ``stage`` with (nothing replaces
    it): the stage's own targets, the namespace and workload it runs under."""
    resolved = cell.stage(stage)
    staged = cell.for_stage(resolved.name)
    aks = staged.aks
    return DeploymentPlan(
        deployment_id=live.deployment_id,
        region=cell.name,
        driver=driver_for(live.metadata, staged),
        release=live,
        replaces=None,
        strategy=Rolling(),
        kubernetes_version=aks.kubernetes_version if aks else DEFAULT_KUBERNETES_VERSION,
        aks=aks,
        gitops=staged.gitops,
        aml=staged.aml,
        requested_by=by,
        stage=resolved.name,
        name_prefix=resolved.name_prefix,
    )


def _stage_strategy(metadata: ModelMetadata, default: RolloutStrategy | None) -> RolloutStrategy:
    """The model's own strategy; a stage's default replaces only the built-in one (rolling)."""
    if default is None or metadata.rollout.strategy != "rolling":
        return metadata.rollout
    return default


def _workload(
    metadata: ModelMetadata, driver: DriverKind, strategy: RolloutStrategy, live: Revision | None
) -> tuple[str, Track]:
    # AML endpoints always run a new version as a second deployment next to the old one.
    if driver is DriverKind.AML or isinstance(strategy, BlueGreen):
        colour: Track = "green" if live is not None and live.track == "blue" else "blue"
        if driver is DriverKind.AML:
            return colour, colour
        return dns_label(metadata.name, colour), colour
    return metadata.name, "stable"


def _check_placement(request: DeploymentRequest, cell: RegionEntry) -> None:
    if request.region != cell.name:
        raise PlanError(
            DeployCode.WRONG_REGION,
            f"The request is for region {request.region}; this cell deploys to {cell.name} only.",
        )
    if cell.name not in request.metadata.regions:
        raise PlanError(
            DeployCode.NOT_TARGETED,
            f"{request.metadata.name} does not target {cell.name} "
            f"(its regions: {', '.join(request.metadata.regions)}).",
        )
    if request.artifact.kind != request.metadata.kind.value:
        raise PlanError(
            DeployCode.BAD_ARTIFACT,
            f"The artifact is a {request.artifact.kind}, the metadata describes a "
            f"{request.metadata.kind.value}.",
        )


def _check_approval(request: DeploymentRequest) -> None:
    if not _APPROVAL_ID.match(request.approval_id):
        raise PlanError(
            DeployCode.BAD_APPROVAL,
            "The approval id must be printable ASCII without spaces.",
        )
    for who in (*request.approved_by, request.requested_by or ""):
        if first_control_character(who) is not None or len(who) > 320:
            raise PlanError(
                DeployCode.BAD_APPROVAL,
                "An approver identity contains control characters or is too long.",
            )


def _check_image(request: DeploymentRequest, cell: RegionEntry) -> None:
    a = request.artifact
    if a.registry != cell.registry.login_server:
        raise PlanError(
            DeployCode.FOREIGN_REGISTRY,
            f"The image comes from {a.registry}; {cell.name} pulls only from its own registry "
            f"{cell.registry.login_server}.",
        )
    if a.digest is None or not _DIGEST.match(a.digest):
        raise PlanError(DeployCode.BAD_ARTIFACT, "The image must be named by a sha256 digest.")
    if a.repository is None or len(a.repository) > 255 or not _REPOSITORY.match(a.repository):
        raise PlanError(DeployCode.BAD_ARTIFACT, "The image repository name is not valid.")
    if request.metadata.serving.kind != "image":
        raise PlanError(DeployCode.BAD_ARTIFACT, "An image needs image serving metadata.")


def _check_aml(request: DeploymentRequest, cell: RegionEntry) -> None:
    a, metadata = request.artifact, request.metadata
    if cell.aml is None:
        raise PlanError(
            DeployCode.NO_TARGET, f"{cell.name} has no Azure ML workspace in the region catalog."
        )
    if (a.workspace or "").lower() != cell.aml.workspace.lower():
        raise PlanError(
            DeployCode.FOREIGN_WORKSPACE,
            f"The model is registered in workspace {a.workspace}; {cell.name} deploys only "
            f"from {cell.aml.workspace}.",
        )
    if a.model != metadata.name or a.version != metadata.version:
        raise PlanError(
            DeployCode.BAD_ARTIFACT,
            "The AML registration and the metadata name different models or versions.",
        )
    if metadata.rollout.strategy == "shadow":
        raise PlanError(
            DeployCode.STRATEGY_UNSUPPORTED,
            "Azure ML Kubernetes online endpoints cannot mirror traffic; use canary or blue-green.",
        )
