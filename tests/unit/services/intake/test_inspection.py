"""Reading a pushed index: every platform entry that could run is read and compared."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.domain.intake.codes import IntakeCode
from shared.local.samples import model_labels
from shared.services.intake.inspection import InspectedImage, inspect_image
from tests.support.fakes import FakeRegistry


def _index(registry: FakeRegistry, entries: list[tuple[str, dict[str, str]]]) -> str:
    index: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": 1,
                "platform": platform,
            }
            for digest, platform in entries
        ],
    }
    digest = "sha256:" + hashlib.sha256(json.dumps(index).encode()).hexdigest()
    registry.manifests[digest] = index
    return digest


def test_two_amd64_entries_that_disagree_are_a_disagreement_not_the_last_one_wins() -> None:
    # A second linux/amd64 entry (say linux/amd64 variant v3, which a node may prefer) used to
    # overwrite the first one's labels: only the last was validated and approved.
    registry = FakeRegistry()
    first = registry.add_image(model_labels(risk_tier="high"))
    second = registry.add_image(model_labels(risk_tier="low"))
    amd64 = {"os": "linux", "architecture": "amd64"}
    index = _index(registry, [(first, amd64), (second, {**amd64, "variant": "v3"})])
    inspected = inspect_image(registry, "r.example", "models/fraud", index)
    assert isinstance(inspected, InspectedImage)
    assert IntakeCode.INTAKE_PLATFORM_LABELS in {v.code for v in inspected.disagreements}


def test_an_index_with_more_entries_than_are_read_is_refused_not_truncated() -> None:
    # Entries past the limit were never read: a disagreeing linux/amd64 variant hid there.
    import pytest

    from shared.domain.errors import TerminalError
    from shared.services.intake.inspection import MAX_PLATFORMS

    registry = FakeRegistry()
    good = registry.add_image(model_labels())
    other = registry.add_image(model_labels(risk_tier="high"))
    amd64 = {"os": "linux", "architecture": "amd64"}
    entries = [(good, amd64)] + [(good, {"os": "linux", "architecture": "s390x"})] * (
        MAX_PLATFORMS - 1
    )
    index = _index(registry, [*entries, (other, {**amd64, "variant": "v3"})])
    with pytest.raises(TerminalError, match="platform entries"):
        inspect_image(registry, "r.example", "models/fraud", index)
