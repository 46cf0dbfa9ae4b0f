"""May this artifact enter this cell? Residency, placement and origin rules, all reported together.

Each cell deploys only what it received itself, from its own registry or AML workspace: an
artifact must arrive in a region it targets, that its residency zone allows. An artifact that
arrived outside its zone has already moved data where it may not go, and says so.
"""

from __future__ import annotations

from shared.domain.artifact import AmlModelArtifact, ImageArtifact
from shared.domain.catalog import RegionCatalog, UnknownRegionError
from shared.domain.deploy import chargeback, expiry
from shared.domain.errors import Violation
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.model import ArtifactKind, ModelMetadata
from shared.domain.metadata.value_rules import printable

_REGIONS = "ai.clearance.regions"
_RESIDENCY = "ai.clearance.residency"
_STRATEGY = "ai.clearance.rollout.strategy"
_EXPIRY = "ai.clearance.expiry-hours"
_SHOWN_LENGTH = 80


def evaluate_intake(
    metadata: ModelMetadata, artifact: ImageArtifact | AmlModelArtifact, catalog: RegionCatalog
) -> list[Violation]:
    """Every reason the artifact may not be deployed; empty when it may.

    Raises ``UnknownRegionError`` when the receiving region is not in the catalog: that is a
    misconfigured cell, not a bad artifact.
    """
    if metadata.kind != artifact.kind:
        raise ValueError(f"metadata parsed as {metadata.kind} for a {artifact.kind} artifact")
    return placement_violations(metadata, artifact.source_region, catalog) + origin_violations(
        artifact, catalog
    )


def placement_violations(
    metadata: ModelMetadata, source_region: str, catalog: RegionCatalog
) -> list[Violation]:
    """The rules that need only the metadata and the receiving region (``clearance check``).

    Raises ``UnknownRegionError`` when ``source_region`` is not in the catalog.
    """
    if not catalog.has_region(source_region):
        raise UnknownRegionError(source_region)
    violations = [
        Violation(
            IntakeCode.INTAKE_UNKNOWN_REGION,
            f"The target region {region} is not in the region catalog; Clearance serves "
            f"{', '.join(catalog.region_names)}.",
            _REGIONS,
        )
        for region in metadata.regions
        if not catalog.has_region(region)
    ]
    violations += _residency_violations(metadata, source_region, catalog)
    if source_region not in metadata.regions:
        violations.append(
            Violation(
                IntakeCode.INTAKE_SOURCE_NOT_TARGET,
                f"The {_arrival(metadata.kind)} {source_region}, which is not one of its target "
                f"regions ({', '.join(metadata.regions)}); each region deploys only what was "
                "pushed or registered there, so use a target region.",
                _REGIONS,
            )
        )
    if metadata.kind is ArtifactKind.AML_MODEL:
        violations += _aml_target_violations(metadata, catalog)
    return violations + hygiene_violations(metadata, catalog)


def hygiene_violations(metadata: ModelMetadata, catalog: RegionCatalog) -> list[Violation]:
    """Each target region's expiry limit and required chargeback labels."""
    violations: list[Violation] = []
    for region in metadata.regions:
        if not catalog.has_region(region):
            continue
        entry = catalog.region(region)
        violations += [
            Violation(
                IntakeCode.INTAKE_EXPIRY,
                f"The expiry label {_EXPIRY} {problem} in region {region}; ask for an "
                "expiry within the region's limits, or remove the label to take its default.",
                _EXPIRY,
            )
            for problem in expiry.label_problems(metadata, entry.expiry)
        ]
        violations += [
            Violation(
                IntakeCode.INTAKE_CHARGEBACK_MISSING,
                f"Region {region} charges every deployment to a team and cost centre and "
                f"requires the label {key}; add it (for example {key}="
                f"{'payments-ml' if key.endswith('team') else 'CC-4711'}).",
                key,
            )
            for key in chargeback.missing(metadata, entry.chargeback)
        ]
    return violations


def _residency_violations(
    metadata: ModelMetadata, source_region: str, catalog: RegionCatalog
) -> list[Violation]:
    zone_name = metadata.residency
    zone = catalog.residency_zones.get(zone_name)
    if zone is None:
        return [
            Violation(
                IntakeCode.INTAKE_UNKNOWN_ZONE,
                f"The residency zone {zone_name} is not in the region catalog; known zones are "
                f"{', '.join(sorted(catalog.residency_zones))}.",
                _RESIDENCY,
            )
        ]
    allowed = ", ".join(zone.regions)
    violations = [
        Violation(
            IntakeCode.INTAKE_RESIDENCY,
            f"The residency zone {zone_name} does not allow the target region {region}; "
            f"it allows only {allowed}.",
            _REGIONS,
        )
        for region in metadata.regions
        if catalog.has_region(region) and not catalog.zone_allows(zone_name, region)
    ]
    if not catalog.zone_allows(zone_name, source_region):
        violations.append(
            Violation(
                IntakeCode.INTAKE_SOURCE_RESIDENCY,
                f"The {_arrival(metadata.kind)} {source_region}, which residency zone "
                f"{zone_name} does not allow: its data has already left the zone. Delete it "
                f"there and use a region of {zone_name} ({allowed}).",
                _RESIDENCY,
            )
        )
    return violations


def _aml_target_violations(metadata: ModelMetadata, catalog: RegionCatalog) -> list[Violation]:
    violations = [
        Violation(
            IntakeCode.INTAKE_NO_AML_WORKSPACE,
            f"The target region {region} has no Azure ML workspace in the region catalog, "
            "so it cannot serve Azure ML models.",
            _REGIONS,
        )
        for region in metadata.regions
        if catalog.has_region(region) and catalog.region(region).aml is None
    ]
    if metadata.rollout.strategy == "shadow":
        violations.append(
            Violation(
                IntakeCode.INTAKE_STRATEGY_UNSUPPORTED,
                "The shadow strategy is not available for Azure ML models: Azure ML Kubernetes "
                "online endpoints cannot mirror traffic. Use canary or blue-green instead.",
                _STRATEGY,
            )
        )
    return violations


def origin_violations(
    artifact: ImageArtifact | AmlModelArtifact, catalog: RegionCatalog
) -> list[Violation]:
    """The artifact must come from the receiving region's own registry or AML workspace."""
    if isinstance(artifact, ImageArtifact):
        return registry_violations(artifact.registry, catalog, artifact.source_region)
    aml = catalog.region(artifact.source_region).aml
    if aml is not None and (
        aml.subscription_id.lower(),
        aml.resource_group.lower(),
        aml.workspace.lower(),
    ) == (
        artifact.subscription_id.lower(),
        artifact.resource_group.lower(),
        artifact.workspace.lower(),
    ):
        return []
    expected = f"({aml.workspace})" if aml is not None else "(it has none in the catalog)"
    return [
        Violation(
            IntakeCode.INTAKE_FOREIGN_WORKSPACE,
            f"The model was registered in workspace {artifact.workspace} (resource group "
            f"{artifact.resource_group}), which is not the Azure ML workspace of region "
            f"{artifact.source_region} {expected}; Clearance deploys only models registered "
            "in the receiving region's workspace.",
            "artifact.workspace",
        )
    ]


def registry_violations(
    login_server: str, catalog: RegionCatalog, source_region: str
) -> list[Violation]:
    """Why an image from ``login_server`` may not be pulled by the ``source_region`` cell."""
    shown = printable(login_server, _SHOWN_LENGTH)
    owner = catalog.region_for_registry(login_server)
    if owner is None:
        return [
            Violation(
                IntakeCode.INTAKE_UNKNOWN_REGISTRY,
                f"The image comes from registry {shown}, which is not in the region catalog; "
                "Clearance pulls only from its own registries.",
                "artifact.registry",
            )
        ]
    if owner.name != source_region:
        return [
            Violation(
                IntakeCode.INTAKE_CROSS_REGION,
                f"The image comes from registry {shown} of region {owner.name}, but it was "
                f"received in region {source_region}; Clearance never pulls across regions.",
                "artifact.registry",
            )
        ]
    return []


def registry_allowed(login_server: str, catalog: RegionCatalog, source_region: str) -> bool:
    """Check this before any request to the registry: only the cell's own registry is trusted."""
    return not registry_violations(login_server, catalog, source_region)


def _arrival(kind: ArtifactKind) -> str:
    if kind is ArtifactKind.IMAGE:
        return "image was pushed to the registry of region"
    return "model was registered in the Azure ML workspace of region"
