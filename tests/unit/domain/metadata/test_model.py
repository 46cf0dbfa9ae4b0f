"""ModelMetadata on its own: what any producer (not only the label parser) must satisfy."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.metadata.model import ArtifactKind, ModelMetadata
from shared.domain.metadata.quantity import cpu_millicores, memory_bytes


def _contract(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "fraud-detector",
        "version": "1.4.2",
        "owner": "ada@example.com",
        "regions": ["westeurope"],
        "residency": "EU",
        "risk_tier": "low",
        "rollout": {"strategy": "rolling"},
        "serving": {
            "kind": "image",
            "port": 8080,
            "health_path": "/healthz",
            "resources": {"cpu": "500m", "memory": "1Gi"},
        },
    }
    return document | overrides


def test_the_contract_round_trips_through_json() -> None:
    metadata = ModelMetadata.model_validate(_contract())

    assert ModelMetadata.model_validate_json(metadata.model_dump_json()) == metadata


def test_metadata_is_frozen_and_closed() -> None:
    metadata = ModelMetadata.model_validate(_contract())

    with pytest.raises(ValidationError):
        metadata.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        ModelMetadata.model_validate(_contract(replicas=3))


def test_the_serving_kind_decides_what_is_required() -> None:
    aml = ModelMetadata.model_validate(_contract(serving={"kind": "aml_model"}))
    assert aml.kind is ArtifactKind.AML_MODEL

    with pytest.raises(ValidationError) as caught:
        ModelMetadata.model_validate(_contract(serving={"kind": "image"}))
    assert {e["loc"][-1] for e in caught.value.errors()} == {"port", "health_path", "resources"}


def test_an_image_serving_block_does_not_take_aml_compute() -> None:
    serving = _contract()["serving"] | {"instance_count": 2}

    with pytest.raises(ValidationError, match="instance_count"):
        ModelMetadata.model_validate(_contract(serving=serving))


@pytest.mark.parametrize(
    "description", ["line\nbreak", "tab\there", "bidi\u202eoverride", "nul\x00"]
)
def test_descriptions_with_control_characters_are_refused(description: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        ModelMetadata.model_validate(_contract(description=description))


@pytest.mark.parametrize("name", ["fraud-detector\n", "fraud-detector ", "fraud--"])
def test_names_allow_nothing_after_the_last_valid_character(name: str) -> None:
    with pytest.raises(ValidationError):
        ModelMetadata.model_validate(_contract(name=name))


def test_integers_in_documents_are_not_coerced_from_strings() -> None:
    serving = _contract()["serving"] | {"port": "8080"}

    with pytest.raises(ValidationError, match="port"):
        ModelMetadata.model_validate(_contract(serving=serving))


@pytest.mark.parametrize(
    ("quantity", "millicores"), [("500m", 500), ("2", 2000), ("0.25", 250), ("1.5", 1500)]
)
def test_cpu_quantities_compare_in_millicores(quantity: str, millicores: int) -> None:
    assert cpu_millicores(quantity) == millicores


@pytest.mark.parametrize(
    ("quantity", "size"),
    [
        ("512", 512),
        ("1k", 1000),
        ("1Ki", 1024),
        ("1Gi", 2**30),
        ("2G", 2 * 10**9),
        ("1.5Gi", 3 * 2**29),  # what Kubernetes accepts (and shows as 1536Mi)
        ("0.5Mi", 2**19),
        ("1.0001k", 1001),  # fractional bytes round up, as in Kubernetes
        ("1Pi", 2**50),
    ],
)
def test_memory_quantities_compare_in_bytes(quantity: str, size: int) -> None:
    assert memory_bytes(quantity) == size


def test_limits_equal_to_requests_are_accepted() -> None:
    resources = {"cpu": "1", "memory": "1Gi", "cpu_limit": "1000m", "memory_limit": "1024Mi"}
    serving = _contract()["serving"] | {"resources": resources}

    assert ModelMetadata.model_validate(_contract(serving=serving)).serving.kind == "image"


def test_memory_bytes_refuses_what_the_contract_refuses() -> None:
    with pytest.raises(ValueError, match="512m"):
        memory_bytes("512m")
