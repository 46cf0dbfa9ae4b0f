"""evaluate_intake: residency, placement and origin rules against a two-region catalog.

Catalog: westeurope and swedencentral; zone EU = both, zone SE = swedencentral only.
"""

from __future__ import annotations

import pytest

from shared.domain.artifact import AmlModelArtifact, ImageArtifact
from shared.domain.catalog import RegionCatalog, UnknownRegionError
from shared.domain.errors import Violation
from shared.domain.intake.codes import IntakeCode
from shared.domain.intake.policy import (
    evaluate_intake,
    placement_violations,
    registry_allowed,
    registry_violations,
)
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind, ModelMetadata

WEST = "clearancewesteurope.azurecr.io"
SWEDEN = "clearanceswedencentral.azurecr.io"


def _image(labels: dict[str, str], regions: str, residency: str) -> ModelMetadata:
    labels = labels | {"ai.clearance.regions": regions, "ai.clearance.residency": residency}
    return parse_metadata(labels, kind=ArtifactKind.IMAGE)


def _pushed(region: str, registry: str) -> ImageArtifact:
    return ImageArtifact(
        source_region=region,
        registry=registry,
        repository="models/fraud-detector",
        digest="sha256:" + "ab" * 32,
    )


def _aml(tags: dict[str, str], **overrides: str) -> ModelMetadata:
    return parse_metadata(tags | overrides, kind=ArtifactKind.AML_MODEL, name="churn", version="3")


def _registered(region: str, workspace: str, resource_group: str) -> AmlModelArtifact:
    return AmlModelArtifact(
        source_region=region,
        subscription_id="00000000-0000-0000-0000-000000000001",
        resource_group=resource_group,
        workspace=workspace,
    )


def _codes(violations: list[Violation]) -> set[tuple[str, str | None]]:
    return {(v.code, v.field) for v in violations}


def test_an_eu_image_pushed_in_a_target_region_is_admitted(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "westeurope,swedencentral", "EU")

    assert evaluate_intake(metadata, _pushed("westeurope", WEST), catalog) == []


def test_an_eu_image_for_swedencentral_from_its_registry_is_admitted(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "swedencentral", "EU")

    assert evaluate_intake(metadata, _pushed("swedencentral", SWEDEN), catalog) == []


def test_an_se_image_pushed_in_westeurope_is_rejected(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "swedencentral", "SE")

    violations = evaluate_intake(metadata, _pushed("westeurope", WEST), catalog)

    assert _codes(violations) == {
        (IntakeCode.INTAKE_SOURCE_NOT_TARGET, "ai.clearance.regions"),
        (IntakeCode.INTAKE_SOURCE_RESIDENCY, "ai.clearance.residency"),
    }
    assert [v.message for v in violations] == [
        "The image was pushed to the registry of region westeurope, which residency zone SE "
        "does not allow: its data has already left the zone. Delete it there and use a region "
        "of SE (swedencentral).",
        "The image was pushed to the registry of region westeurope, which is not one of its "
        "target regions (swedencentral); each region deploys only what was pushed or "
        "registered there, so use a target region.",
    ]


def test_a_zone_must_allow_every_target_region(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "swedencentral,westeurope", "SE")

    violations = evaluate_intake(metadata, _pushed("swedencentral", SWEDEN), catalog)

    assert [str(v) for v in violations] == [
        "CLR-INTAKE-RESIDENCY [ai.clearance.regions]: The residency zone SE does not allow the "
        "target region westeurope; it allows only swedencentral."
    ]


def test_unknown_regions_and_zones_are_named(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    unknown_region = _image(image_labels, "westeurope,northeurope", "EU")
    unknown_zone = _image(image_labels, "westeurope", "US")

    assert _codes(placement_violations(unknown_region, "westeurope", catalog)) == {
        (IntakeCode.INTAKE_UNKNOWN_REGION, "ai.clearance.regions")
    }
    assert _codes(placement_violations(unknown_zone, "westeurope", catalog)) == {
        (IntakeCode.INTAKE_UNKNOWN_ZONE, "ai.clearance.residency")
    }
    assert [str(v) for v in placement_violations(unknown_zone, "westeurope", catalog)] == [
        "CLR-INTAKE-UNKNOWN-ZONE [ai.clearance.residency]: The residency zone US is not in the "
        "region catalog; known zones are EU, SE."
    ]


def test_an_image_from_a_registry_outside_the_catalog_is_refused(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "westeurope", "EU")

    violations = evaluate_intake(metadata, _pushed("westeurope", "evil.example.com"), catalog)

    assert _codes(violations) == {(IntakeCode.INTAKE_UNKNOWN_REGISTRY, "artifact.registry")}
    assert not registry_allowed("evil.example.com", catalog, "westeurope")


def test_an_image_is_never_pulled_across_regions(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "westeurope,swedencentral", "EU")

    violations = evaluate_intake(metadata, _pushed("westeurope", SWEDEN), catalog)

    assert _codes(violations) == {(IntakeCode.INTAKE_CROSS_REGION, "artifact.registry")}
    assert not registry_allowed(SWEDEN, catalog, "westeurope")


@pytest.mark.parametrize("login_server", [WEST, "ClearanceWestEurope.azurecr.io"])
def test_the_cells_own_registry_is_allowed(login_server: str, catalog: RegionCatalog) -> None:
    assert registry_allowed(login_server, catalog, "westeurope")


def test_a_hostile_registry_host_is_shown_escaped(catalog: RegionCatalog) -> None:
    (violation,) = registry_violations("evil.example.com\x1b]8;;", catalog, "westeurope")

    assert "\x1b" not in violation.message
    assert "evil.example.com\\u001b]8;;" in violation.message


def test_an_aml_model_from_the_regions_workspace_is_admitted(
    aml_tags: dict[str, str], catalog: RegionCatalog
) -> None:
    artifact = _registered("westeurope", "MLW-WestEurope", "RG-Clearance-WestEurope")

    assert evaluate_intake(_aml(aml_tags), artifact, catalog) == []


def test_an_aml_model_from_another_workspace_is_refused(
    aml_tags: dict[str, str], catalog: RegionCatalog
) -> None:
    artifact = _registered("westeurope", "mlw-swedencentral", "rg-clearance-swedencentral")

    violations = evaluate_intake(_aml(aml_tags), artifact, catalog)

    assert [str(v) for v in violations] == [
        "CLR-INTAKE-FOREIGN-WORKSPACE [artifact.workspace]: The model was registered in "
        "workspace mlw-swedencentral (resource group rg-clearance-swedencentral), which is not "
        "the Azure ML workspace of region westeurope (mlw-westeurope); Clearance deploys only "
        "models registered in the receiving region's workspace."
    ]


def test_aml_models_need_a_workspace_in_every_target_region(
    aml_tags: dict[str, str], catalog_without_aml_in_sweden: RegionCatalog
) -> None:
    metadata = _aml(aml_tags, **{"ai.clearance.regions": "swedencentral"})
    artifact = _registered("swedencentral", "mlw-swedencentral", "rg-clearance-swedencentral")

    violations = evaluate_intake(metadata, artifact, catalog_without_aml_in_sweden)

    assert _codes(violations) == {
        (IntakeCode.INTAKE_NO_AML_WORKSPACE, "ai.clearance.regions"),
        (IntakeCode.INTAKE_FOREIGN_WORKSPACE, "artifact.workspace"),
    }


def test_shadow_is_refused_for_aml_models_only(
    aml_tags: dict[str, str], image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    shadow = {
        "ai.clearance.rollout.strategy": "shadow",
        "ai.clearance.rollout.shadow.mirror-percent": "10",
    }
    image = parse_metadata(
        {k: v for k, v in image_labels.items() if "canary" not in k}
        | shadow
        | {"ai.clearance.regions": "westeurope"},
        kind=ArtifactKind.IMAGE,
    )

    violations = placement_violations(_aml(aml_tags, **shadow), "westeurope", catalog)

    assert [str(v) for v in violations] == [
        "CLR-INTAKE-STRATEGY-UNSUPPORTED [ai.clearance.rollout.strategy]: The shadow strategy "
        "is not available for Azure ML models: Azure ML Kubernetes online endpoints cannot "
        "mirror traffic. Use canary or blue-green instead."
    ]
    assert placement_violations(image, "westeurope", catalog) == []


def test_every_intake_violation_is_reported_together(
    aml_tags: dict[str, str], catalog_without_aml_in_sweden: RegionCatalog
) -> None:
    metadata = _aml(
        aml_tags,
        **{
            "ai.clearance.regions": "swedencentral,westeurope,northeurope",
            "ai.clearance.residency": "SE",
            "ai.clearance.rollout.strategy": "shadow",
            "ai.clearance.rollout.shadow.mirror-percent": "10",
        },
    )
    artifact = _registered("westeurope", "mlw-other", "rg-other")

    violations = evaluate_intake(metadata, artifact, catalog_without_aml_in_sweden)

    assert sorted((v.code, v.message.split(";")[0]) for v in violations) == sorted(
        [
            (
                IntakeCode.INTAKE_UNKNOWN_REGION,
                "The target region northeurope is not in the region catalog",
            ),
            (
                IntakeCode.INTAKE_RESIDENCY,
                "The residency zone SE does not allow the target region westeurope",
            ),
            (
                IntakeCode.INTAKE_SOURCE_RESIDENCY,
                "The model was registered in the Azure ML workspace of region westeurope, which "
                "residency zone SE does not allow: its data has already left the zone. Delete it "
                "there and use a region of SE (swedencentral).",
            ),
            (
                IntakeCode.INTAKE_NO_AML_WORKSPACE,
                "The target region swedencentral has no Azure ML workspace in the region "
                "catalog, so it cannot serve Azure ML models.",
            ),
            (
                IntakeCode.INTAKE_STRATEGY_UNSUPPORTED,
                "The shadow strategy is not available for Azure ML models: Azure ML Kubernetes "
                "online endpoints cannot mirror traffic. Use canary or blue-green instead.",
            ),
            (
                IntakeCode.INTAKE_FOREIGN_WORKSPACE,
                "The model was registered in workspace mlw-other (resource group rg-other), "
                "which is not the Azure ML workspace of region westeurope (mlw-westeurope)",
            ),
        ]
    )


def test_an_unknown_receiving_region_is_a_misconfigured_cell(
    image_labels: dict[str, str], catalog: RegionCatalog
) -> None:
    metadata = _image(image_labels, "westeurope", "EU")

    with pytest.raises(UnknownRegionError):
        evaluate_intake(metadata, _pushed("northeurope", WEST), catalog)


def test_metadata_and_artifact_must_be_of_the_same_kind(
    aml_tags: dict[str, str], catalog: RegionCatalog
) -> None:
    with pytest.raises(ValueError, match="aml_model"):
        evaluate_intake(_aml(aml_tags), _pushed("westeurope", WEST), catalog)


@pytest.mark.parametrize(
    "digest", ["latest", "sha256:" + "a" * 63, "sha256:" + "A" * 64, "sha512:" + "a" * 64]
)
def test_images_are_only_known_by_sha256_digest(digest: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        ImageArtifact(
            source_region="westeurope", registry=WEST, repository="models/x", digest=digest
        )
