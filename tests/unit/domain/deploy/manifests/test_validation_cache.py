"""The cached validator decides exactly as ``kubernetes_validate.validate`` does (same verdict,
same path, same message) on valid and broken objects, shares its validators safely across
threads, and turns what the library would crash on into a ``PlanError``."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kubernetes_validate
import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode, PlanError
from shared.domain.deploy.manifests.validation import validate_manifests
from tests.support import deploy_samples as s
from tests.support.manifest_cases import phases, plan_for

VERSIONS = ["1.30", "v1.30.4", "1.32", "1.27"]


def _objects(cell: RegionEntry) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for strategy in sorted(s.ROLLOUTS):
        for phase in phases(plan_for(cell, s.image_metadata(strategy))):
            for manifest in phase.desired:
                found.setdefault(f"{manifest['kind']}/{manifest['metadata']['name']}", manifest)
    return list(found.values())


def _broken(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects one edit away from ``manifest``: an unknown field, a wrong type, a missing
    required field, an unknown kind."""
    unknown = copy.deepcopy(manifest)
    unknown["spec"] = {**(unknown.get("spec") or {}), "sidecar": True}
    wrong = copy.deepcopy(manifest)
    wrong["metadata"]["labels"] = {"a": 1}
    nameless = copy.deepcopy(manifest)
    nameless["metadata"] = {"namespace": 7}
    alien = {**copy.deepcopy(manifest), "kind": "NoSuchKind"}
    return [unknown, wrong, nameless, alien]


def _library(manifest: dict[str, Any], version: str) -> tuple[str, str] | None:
    """The library's own verdict: None (valid) or (kind of error, detail)."""
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return "invalid", f"{'.'.join(str(p) for p in exc.path) or '<root>'}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return "no schema", exc.message
    return None


def _ours(manifest: dict[str, Any], version: str) -> tuple[str, str] | None:
    try:
        validate_manifests([manifest], version)
    except PlanError as exc:
        text = str(exc)
        detail = text.split(f"Kubernetes {version}: ", 1)[1]
        return ("no schema" if "cannot be checked" in text else "invalid"), detail
    return None


@pytest.mark.parametrize("version", VERSIONS)
def test_every_verdict_matches_the_library(cell: RegionEntry, version: str) -> None:
    cases = [m for good in _objects(cell) for m in (good, *_broken(good))]
    assert len(cases) > 20
    verdicts = [_library(m, version) for m in cases]
    assert any(v is None for v in verdicts) and any(v is not None for v in verdicts)
    assert [_ours(m, version) for m in cases] == verdicts


def test_threads_share_the_validators_and_agree(cell: RegionEntry) -> None:
    cases = [m for good in _objects(cell) for m in (good, *_broken(good))] * 4
    expected = [_ours(m, "1.30") for m in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda m: _ours(m, "1.30"), cases)) == expected


@pytest.mark.parametrize(
    "manifest",
    [
        {"kind": "Service", "metadata": {"name": "x"}},  # no apiVersion: the library's KeyError
        {"apiVersion": "v1", "metadata": {"name": "x"}},  # no kind
        {"apiVersion": ["v1"], "kind": {"a": 1}, "metadata": {"name": "x"}},
        {"apiVersion": "", "kind": "", "metadata": None},
        # a kind or API version that would name another schema file (the non-strict one)
        {"apiVersion": "v1", "kind": "../v1.30.0-local/Service", "metadata": {"name": "x"}},
        {"apiVersion": "../../v1", "kind": "Service", "metadata": {"name": "x"}},
        {"apiVersion": "v1", "kind": "Service\x00", "metadata": {"name": "x"}},
        {"apiVersion": "v1", "kind": "S" * 10_000, "metadata": {"name": "x"}},
    ],
)
def test_an_object_without_kind_or_api_version_is_a_plan_error(manifest: dict[str, Any]) -> None:
    with pytest.raises(PlanError) as caught:
        validate_manifests([manifest], "1.30")
    assert caught.value.violation.code == DeployCode.INVALID_MANIFEST
    assert "cannot be checked" in str(caught.value)


def test_a_version_past_the_newest_schema_cannot_be_checked(cell: RegionEntry) -> None:
    manifest = _objects(cell)[0]
    with pytest.raises(PlanError, match=r"cannot be checked for Kubernetes 9\.99"):
        validate_manifests([manifest], "9.99")
    assert validate_manifests([manifest], "1.30") == 1  # the failure was not cached as a verdict
