# ruff: noqa: RUF001 - the look-alike characters are the point of these tests
"""Canonical identities: every look-alike of an address is the same identity, or refused."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.errors import InputError
from shared.domain.identity import (
    IdentityProblem,
    IdentityRules,
    canonical_identity,
    identity_problem,
    same_identity,
)
from shared.domain.intake.codes import IntakeCode
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind

RULES = IdentityRules(subaddress={"contoso.example": "+"}, owner_domains=("contoso.example",))
locals_ = st.text(alphabet=string.ascii_lowercase + string.digits + "._", min_size=1, max_size=20)
local_parts = locals_.filter(lambda s: s[0].isalnum())
domains = st.sampled_from(["contoso.example", "fabrikam.example", "example.org"])
FULLWIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in string.ascii_letters + string.digits}
CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у"}


def _address(local: str, domain: str) -> str:
    return f"{local}@{domain}"


@given(local_parts, domains, st.text(alphabet=string.ascii_letters, min_size=0, max_size=8))
def test_a_subaddress_is_the_same_person(local: str, domain: str, tag: str) -> None:
    assert canonical_identity(f"{local}+{tag}@{domain}", RULES) == _address(local, domain)


def test_a_domain_can_turn_subaddressing_off_or_use_another_separator() -> None:
    rules = IdentityRules(subaddress={"contoso.example": "", "fabrikam.example": "-"})

    assert canonical_identity("a+b@contoso.example", rules) == "a+b@contoso.example"
    assert canonical_identity("a-b@fabrikam.example", rules) == "a@fabrikam.example"


@given(local_parts, domains, st.data())
def test_fullwidth_case_and_whitespace_fold_to_the_plain_address(
    local: str, domain: str, data: st.DataObject
) -> None:
    plain = _address(local, domain)
    mask = data.draw(st.lists(st.booleans(), min_size=len(local), max_size=len(local)))
    wide = "".join(FULLWIDTH.get(c, c) if m else c for c, m in zip(local, mask, strict=True))
    upper = data.draw(st.booleans())
    variant = f"  {wide.upper() if upper else wide}@{domain.upper() if upper else domain}\t"

    assert canonical_identity(variant, RULES) == plain
    assert same_identity(variant, plain, RULES)


@given(local_parts.filter(lambda s: any(c in CYRILLIC for c in s)), domains)
def test_cyrillic_look_alikes_fold_onto_the_latin_address(local: str, domain: str) -> None:
    spoof = "".join(CYRILLIC.get(c, c) for c in local)

    assert spoof != local
    assert canonical_identity(_address(spoof, domain), RULES) == _address(local, domain)
    assert identity_problem(_address(spoof, domain)) is not None


@given(st.text(max_size=40))
def test_canonical_is_idempotent_and_never_raises(text: str) -> None:
    once = canonical_identity(text, RULES)

    assert canonical_identity(once, RULES) == once


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("ａpprover.one@contoso.example", IdentityProblem.COMPATIBILITY_FORM),
        ("approver.оne@contoso.example", IdentityProblem.MIXED_SCRIPT),
        ("approvεr.one@contoso.example", IdentityProblem.MIXED_SCRIPT),
        ("оле@contoso.example", IdentityProblem.MIXED_SCRIPT),  # Cyrillic local, Latin domain
    ],
)
def test_confusable_addresses_are_named_for_what_they_are(
    address: str, problem: IdentityProblem
) -> None:
    found = identity_problem(address)

    assert found is not None
    assert found[0] is problem


def test_plain_and_single_script_addresses_are_fine() -> None:
    assert identity_problem("approver.one+x@contoso.example") is None
    assert identity_problem("José.Müller@contoso.example") is None


def test_owner_domain_allow_list_compares_canonical_domains() -> None:
    assert RULES.owner_domain_allowed("Ada@CONTOSO.example")
    assert not RULES.owner_domain_allowed("ada@evil.example")
    assert not RULES.owner_domain_allowed("ada@contoso.example.evil.example")
    assert not IdentityRules().owner_domain_allowed("ada@contoso.example")


@pytest.mark.parametrize(
    ("owner", "code"),
    [
        ("ａpprover.one@contoso.example", IntakeCode.META_CONFUSABLE),
        ("approver.оne@contoso.example", IntakeCode.META_MIXED_SCRIPT),
    ],
)
def test_intake_refuses_a_confusable_owner_with_a_code_that_says_why(
    owner: str, code: IntakeCode, image_labels: dict[str, str]
) -> None:
    with pytest.raises(InputError) as caught:
        parse_metadata({**image_labels, "ai.clearance.owner": owner}, kind=ArtifactKind.IMAGE)

    codes = [v.code for v in caught.value.violations]
    assert codes == [code]
    assert caught.value.violations[0].field == "ai.clearance.owner"
