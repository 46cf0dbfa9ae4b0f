"""Names and label values from metadata are always valid, and different inputs stay apart."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.deploy.k8s_names import (
    digest_label,
    dns_label,
    is_dns_label,
    is_label_value,
    label_value,
)


def test_valid_values_are_kept_as_they_are() -> None:
    assert dns_label("fraud-detector", "canary") == "fraud-detector-canary"
    assert label_value("1.4.2") == "1.4.2"
    assert label_value("") == ""


def test_invalid_values_are_rewritten_with_a_hash_of_the_original() -> None:
    plus, underscore = label_value("1.0+build.5"), label_value("1.0_build.5")
    assert is_label_value(plus) and plus != underscore
    assert plus.startswith("1.0_build.5-")
    long_name = dns_label("m" * 63, "canary")
    assert is_dns_label(long_name) and len(long_name) == 63
    assert dns_label("m" * 63, "canary") != dns_label("m" * 63, "shadow")
    assert dns_label("9lives").startswith("x-9lives-")


def test_digest_label_is_a_valid_prefix_of_the_digest() -> None:
    digest = "sha256:" + "ab" * 32
    assert digest_label(digest) == "sha256-" + "ab" * 16
    assert is_label_value(digest_label(digest))


@given(st.text(max_size=300))
def test_label_value_is_always_valid_and_stable(text: str) -> None:
    value = label_value(text)
    assert is_label_value(value)
    assert label_value(text) == value
    assert label_value(value) == value


@given(st.lists(st.text(max_size=80), min_size=1, max_size=3))
def test_dns_label_is_always_a_dns_label(parts: list[str]) -> None:
    assert is_dns_label(dns_label(*parts))


@given(st.text(max_size=100), st.text(max_size=100))
def test_different_inputs_give_different_label_values(a: str, b: str) -> None:
    if a != b:
        assert label_value(a) != label_value(b)
