"""Whatever a registry or workspace hands over, parsing ends in metadata or in an InputError.

Values are data: hostile fragments are refused or carried verbatim, never interpreted, and
nothing unprintable reaches a message that a terminal, log or e-mail will show.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.keys import BY_KEY, LABEL_KEYS, PREFIX
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind, ModelMetadata

VALID_IMAGE_LABELS = {
    spec.key: spec.example
    for spec in LABEL_KEYS
    if ArtifactKind.IMAGE in spec.kinds and spec.strategy in (None, "canary")
}
HOSTILE = [
    "a: b\nc: d",
    "!!python/object/apply:os.system ['id']",
    "&anchor [*anchor, *anchor]",
    '{"owner": "mallory@example.com"}',
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "{{ 7*7 }}",
    "${jndi:ldap://example.com/a}",
    "'; DROP TABLE models; --",
    "$(rm -rf /)",
    "westeurope\nai.clearance.regions=eastus",
    "\x1b[2J\x1b[31mAPPROVED",
    "x" * 5000,
]
TEXT_KEYS = [spec.key for spec in LABEL_KEYS if spec.shape == "text"]
# Keys whose value is checked against another key's: their violations may land on the other key.
CROSS_CHECKED = {
    "ai.clearance.rollout.strategy",
    "ai.clearance.resources.cpu",
    "ai.clearance.resources.memory",
}

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
keys = st.one_of(any_text, st.sampled_from(sorted(BY_KEY)), any_text.map(PREFIX.__add__))
values = st.one_of(
    any_text,
    st.sampled_from([spec.example for spec in LABEL_KEYS]),
    st.sampled_from(HOSTILE),
)


def _parse_or_refuse(
    labels: dict[str, str], kind: ArtifactKind, **registration: str | None
) -> ModelMetadata | InputError:
    try:
        return parse_metadata(labels, kind=kind, **registration)
    except InputError as refused:
        return refused


def _assert_well_formed(refused: InputError) -> None:
    codes = set(IntakeCode)
    for violation in refused.violations:
        assert violation.code in codes
        assert violation.message.isprintable()
        assert violation.field is None or violation.field.isprintable()


@settings(max_examples=400, deadline=None)
@given(
    labels=st.dictionaries(keys, values, max_size=40),
    kind=st.sampled_from(ArtifactKind),
    name=st.one_of(st.none(), any_text),
    version=st.one_of(st.none(), any_text),
)
def test_any_label_map_ends_in_metadata_or_input_error(
    labels: dict[str, str], kind: ArtifactKind, name: str | None, version: str | None
) -> None:
    outcome = _parse_or_refuse(labels, kind, name=name, version=version)

    if isinstance(outcome, InputError):
        _assert_well_formed(outcome)
    else:
        assert outcome.kind is kind


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from(sorted(set(BY_KEY) - CROSS_CHECKED)), value=values)
def test_one_bad_value_in_valid_labels_is_refused_on_its_key_or_kept(key: str, value: str) -> None:
    outcome = _parse_or_refuse(VALID_IMAGE_LABELS | {key: value}, ArtifactKind.IMAGE)

    if isinstance(outcome, InputError):
        _assert_well_formed(outcome)
        assert {v.field for v in outcome.violations} == {key}


@settings(max_examples=300, deadline=None)
@given(
    description=st.text(
        st.characters(codec=None, exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=500,
    )
)
def test_descriptions_are_carried_verbatim(description: str) -> None:
    labels = VALID_IMAGE_LABELS | {"org.opencontainers.image.description": description}

    assert parse_metadata(labels, kind=ArtifactKind.IMAGE).description == description


@pytest.mark.parametrize("key", TEXT_KEYS)
@pytest.mark.parametrize("fragment", HOSTILE)
def test_hostile_fragments_are_refused_or_kept_as_is(key: str, fragment: str) -> None:
    outcome = _parse_or_refuse(VALID_IMAGE_LABELS | {key: fragment}, ArtifactKind.IMAGE)

    if isinstance(outcome, InputError):
        _assert_well_formed(outcome)
    else:
        spec = BY_KEY[key]
        value: object = outcome
        for part in spec.path:
            value = getattr(value, part)
        assert value == fragment
