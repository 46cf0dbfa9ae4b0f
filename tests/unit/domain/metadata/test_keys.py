"""The key convention agrees with the contract: every key lands where it says, as documented."""

from __future__ import annotations

import pytest

from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.keys import BY_KEY, LABEL_KEYS, PREFIX, LabelKey
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind, ModelMetadata

OCI = "org.opencontainers.image."


def _labels_for(
    spec: LabelKey, image_labels: dict[str, str], aml_tags: dict[str, str]
) -> tuple[dict[str, str], ArtifactKind]:
    """Valid labels of a kind and strategy that ``spec`` applies to."""
    if ArtifactKind.IMAGE in spec.kinds:
        labels, kind = dict(image_labels), ArtifactKind.IMAGE
    else:
        labels = aml_tags | {"ai.clearance.model.name": "churn-model", OCI + "version": "3"}
        kind = ArtifactKind.AML_MODEL
    if spec.strategy is not None:
        labels = {k: v for k, v in labels.items() if not k.startswith(PREFIX + "rollout.")}
        labels[PREFIX + "rollout.strategy"] = spec.strategy
        labels |= {
            other.key: other.example
            for other in LABEL_KEYS
            if other.strategy == spec.strategy and other.required
        }
    return labels, kind


def _at(metadata: ModelMetadata, path: tuple[str, ...]) -> object:
    value: object = metadata
    for part in path:
        value = getattr(value, part)
    return value


def _as_label(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def test_keys_are_unique_and_namespaced() -> None:
    assert len(BY_KEY) == len(LABEL_KEYS)
    assert all(spec.key.startswith((PREFIX, OCI)) for spec in LABEL_KEYS)


@pytest.mark.parametrize("spec", LABEL_KEYS, ids=lambda spec: spec.key)
def test_each_example_lands_where_its_key_says(
    spec: LabelKey, image_labels: dict[str, str], aml_tags: dict[str, str]
) -> None:
    labels, kind = _labels_for(spec, image_labels, aml_tags)
    labels[spec.key] = spec.example

    metadata = parse_metadata(labels, kind=kind)

    assert _as_label(_at(metadata, spec.path)) == spec.example


@pytest.mark.parametrize("spec", LABEL_KEYS, ids=lambda spec: spec.key)
def test_required_flag_matches_the_contract(
    spec: LabelKey, image_labels: dict[str, str], aml_tags: dict[str, str]
) -> None:
    labels, kind = _labels_for(spec, image_labels, aml_tags)
    labels.pop(spec.key, None)

    if spec.required:
        with pytest.raises(InputError) as caught:
            parse_metadata(labels, kind=kind)
        assert [(v.code, v.field) for v in caught.value.violations] == [
            (IntakeCode.META_MISSING, spec.key)
        ]
    else:
        metadata = parse_metadata(labels, kind=kind)
        if spec.default is not None and spec.default.isdigit():
            assert _as_label(_at(metadata, spec.path)) == spec.default
