"""The shared kustomization listings: entries are only ever added, hand edits are refused."""

from __future__ import annotations

import pytest
import yaml

from shared.domain.deploy.manifests.gitops import ListingError, merge_listing


def test_a_new_listing_lists_its_entries() -> None:
    doc = yaml.safe_load(merge_listing(None, ["namespace.yaml", "fraud"]))
    assert doc["kind"] == "Kustomization"
    assert doc["resources"] == ["fraud", "namespace.yaml"]


def test_merging_keeps_every_other_entry_and_adds_once() -> None:
    first = merge_listing(None, ["namespace.yaml", "fraud"])
    second = merge_listing(first, ["namespace.yaml", "churn"])
    assert yaml.safe_load(second)["resources"] == ["churn", "fraud", "namespace.yaml"]
    assert merge_listing(second, ["churn"]) == second


@pytest.mark.parametrize(
    "edited",
    ["resources: [unclosed", "just text", "kind: Kustomization\nresources: {a: 1}", "- a\n- b"],
)
def test_a_hand_edited_listing_is_refused(edited: str) -> None:
    with pytest.raises(ListingError):
        merge_listing(edited, ["fraud"])


@pytest.mark.parametrize(
    "edited",
    [
        "[" * 20_000 + "]" * 20_000,  # PyYAML composes recursively: RecursionError
        "resources:\n" + "- a\n" * 400_000,  # megabytes of listing
    ],
)
def test_a_listing_edited_into_something_hostile_is_a_listing_error(edited: str) -> None:
    # The branch is edited by people: a hostile listing is refused, never a crash the
    # deployment-requests trigger would retry until dead-lettering.
    with pytest.raises(ListingError):
        merge_listing(edited, ["fraud"])
