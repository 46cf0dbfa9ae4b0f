"""Version order and moving names."""

from __future__ import annotations

import pytest

from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.domain.metadata.versions import canonical, compare, is_lower, is_moving
from shared.local.samples import model_labels


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("1.4.9", "1.7.0"),
        ("1.9.0", "1.10.0"),  # numeric, not lexical
        ("2.0.0-rc.1", "2.0.0"),
        ("2.0.0-alpha", "2.0.0-alpha.1"),
        ("2.0.0-alpha.2", "2.0.0-alpha.10"),
        ("2.0.0-alpha.9", "2.0.0-beta"),
        ("1.2", "1.2.1"),
        ("v1.0.0", "1.0.1"),
        ("9", "10"),  # Azure ML integer versions
    ],
)
def test_semantic_version_order(low: str, high: str) -> None:
    assert compare(low, high) == -1 and compare(high, low) == 1
    assert is_lower(low, high) and not is_lower(high, low)


def test_equal_versions_and_build_metadata() -> None:
    assert compare("v1.0.0", "1.0.0") == 0
    assert compare("1.0.0+build.7", "1.0.0") == 0
    assert compare("1.0", "1.0.0") == 0


@pytest.mark.parametrize("other", ["nightly-2024", "1.0.0.0.0", "1.0.0_rc", "٣.0.0"])
def test_versions_without_an_order_compare_to_none(other: str) -> None:
    assert compare(other, "1.0.0") is None
    assert not is_lower(other, "1.0.0") and not is_lower("1.0.0", other)


@pytest.mark.parametrize("name", ["latest", "LATEST", "stable", "main", "nightly", "edge"])
def test_moving_names_are_refused_as_versions(name: str) -> None:
    assert is_moving(name)
    with pytest.raises(InputError) as caught:
        parse_metadata(model_labels(version=name), kind=ArtifactKind.IMAGE)
    (violation,) = caught.value.violations
    assert violation.code == IntakeCode.META_MOVING_VERSION
    assert violation.field == "org.opencontainers.image.version"
    assert "1.4.0" in violation.message


def test_the_version_intent_label() -> None:
    labels = model_labels(version="1.4.9", extra={"ai.clearance.version.intent": "hotfix"})
    assert parse_metadata(labels, kind=ArtifactKind.IMAGE).version_intent == "hotfix"
    labels["ai.clearance.version.intent"] = "downgrade"
    with pytest.raises(InputError) as caught:
        parse_metadata(labels, kind=ArtifactKind.IMAGE)
    assert caught.value.violations[0].field == "ai.clearance.version.intent"


@pytest.mark.parametrize(
    "look_alike",
    ["l\u0430test", "\uff4c\uff41\uff54\uff45\uff53\uff54", "latest\u200b", "\uff11.0.0"],
)
def test_look_alikes_of_moving_names_or_digits_are_not_versions(look_alike: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_metadata(model_labels(version=look_alike), kind=ArtifactKind.IMAGE)
    assert {v.field for v in caught.value.violations} == {"org.opencontainers.image.version"}
    assert compare(look_alike, "1.0.0") is None


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("1.4.2", "1.4.2"),
        ("v1.4.2", "1.4.2"),
        ("01.04.002", "1.4.2"),
        ("1.4", "1.4.0"),
        ("1.4.2.0", "1.4.2"),
        ("1.4.2.7", "1.4.2.7"),
        ("1.4.2-rc.01", "1.4.2-rc.1"),
        ("1.4.2+build.7", "1.4.2+build.7"),
        ("7", "7.0.0"),
        ("build_7", "build_7"),
    ],
)
def test_one_spelling_per_version(spelling: str, expected: str) -> None:
    assert canonical(spelling) == expected
