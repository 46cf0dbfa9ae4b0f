"""Hostile metadata cannot change the shape of a manifest: it only ever lands in values."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.deploy.k8s_names import is_dns_label, is_label_value
from shared.domain.deploy.manifests.gitops import render_files, to_yaml
from shared.domain.deploy.manifests.objects import Manifest
from shared.domain.deploy.manifests.phases import K8sPhase
from shared.domain.deploy.manifests.validation import validate_manifests
from shared.domain.metadata.model import ModelMetadata
from tests.support import deploy_samples as s
from tests.support.manifest_cases import phases, plan_for

CELL = s.cell()
BENIGN = {
    "description": "Scores payments",
    "source": "https://github.com/contoso/fraud",
    "revision": "3f2c9e1",
}
HOSTILE = {
    "name": "f" * 63,
    "version": "A" + "1.0+build-7_x" * 4 + "z" * 10,
    "team": "t" * 63,
    "description": (
        "x\"}: [] --- &a *a !!python/object:os.system kind: ClusterRole # {{ .V }} $(id) ';"
    ),
    "source": "https://evil.example.com/a:b@c;d=e,f",
    "revision": "a/b/../../c+d",
}


def _skeleton(value: Any, path: str = "") -> list[str]:
    """Every key path and leaf type, without the leaf values."""
    if isinstance(value, dict):
        keys = sorted(value)
        return [p for k in keys for p in _skeleton(value[k], f"{path}.{_key(k)}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _skeleton(v, f"{path}[{i}]")]
    return [f"{path}:{type(value).__name__}"]


def _key(key: str) -> str:
    # Names of workloads differ with the model name; only their position matters.
    return "<name>" if key.startswith(("f" * 10, "fraud-detector")) else key


def _metadata(**overrides: Any) -> ModelMetadata:
    md = s.image_metadata("shadow", **{**BENIGN, **overrides})
    return md


def _shapes(md: ModelMetadata, **request: Any) -> list[list[list[str]]]:
    plan = plan_for(CELL, md, **request)
    return [sorted(_shape_of(m) for m in phase.desired) for phase in phases(plan)]


def _shape_of(manifest: Manifest) -> list[str]:
    return [p for p in _skeleton(manifest) if ".metadata.name" not in p]


def _all(md: ModelMetadata, **request: Any) -> list[K8sPhase]:
    return phases(plan_for(CELL, md, **request))


def test_hostile_metadata_gives_the_same_shape_as_benign_metadata() -> None:
    benign = _shapes(_metadata())
    hostile = _shapes(_metadata(**HOSTILE), approval_id='apr-"}{#:---&*!|>')
    assert [[len(m) for m in p] for p in hostile] == [[len(m) for m in p] for p in benign]
    assert hostile == benign


def test_hostile_values_are_carried_verbatim_in_annotations_only() -> None:
    md = _metadata(**HOSTILE)
    for phase in _all(md):
        for manifest in phase.desired:
            notes = manifest["metadata"].get("annotations", {})
            if "clearance.ai/description" in notes:
                assert notes["clearance.ai/description"] == HOSTILE["description"]
                assert notes["clearance.ai/version"] in (HOSTILE["version"], "0.9.0")
            _assert_names_and_labels_valid(manifest)


def _assert_names_and_labels_valid(manifest: Manifest) -> None:
    meta = manifest["metadata"]
    assert is_dns_label(meta["name"]), meta["name"]
    if "namespace" in meta:
        assert is_dns_label(meta["namespace"])
    labels = dict(meta.get("labels", {}))
    template = manifest.get("spec", {}).get("template")
    if template:
        labels.update(template["metadata"]["labels"])
    for value in labels.values():
        assert is_label_value(value), value


def test_hostile_manifests_are_schema_valid_and_survive_a_yaml_round_trip() -> None:
    for phase in _all(_metadata(**HOSTILE)):
        validate_manifests(phase.desired, "1.30")
        for manifest in phase.desired:
            assert yaml.safe_load(to_yaml(manifest)) == manifest
        _, files = render_files(phase)
        for text in files.values():
            assert len(list(yaml.safe_load_all(text))) == 1


_PRINTABLE = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    description=st.text(_PRINTABLE, min_size=1, max_size=500),
    approver=st.text(_PRINTABLE, min_size=1, max_size=80),
)
def test_any_description_and_approver_keep_the_shape(description: str, approver: str) -> None:
    try:
        md = _metadata(description=description)
    except ValidationError:
        assume(False)
        raise
    request = {"approved_by": (approver, "approver.two@contoso.example")}
    hostile = _all(md, **request)
    assert [sorted(_shape_of(m) for m in p.desired) for p in hostile] == _shapes(_metadata())
    for phase in hostile:
        for manifest in phase.desired:
            assert yaml.safe_load(to_yaml(manifest)) == manifest
            _assert_names_and_labels_valid(manifest)


_SCALARS = st.one_of(
    st.text(max_size=200), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=40), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=40), _VALUES, max_size=5))
def test_any_value_reads_back_from_its_yaml_as_written(doc: dict[str, object]) -> None:
    """Whichever emitter writes it (libyaml's when PyYAML has it): the YAML loads back to the
    value rendered, for any string a label or an annotation can hold."""
    assert yaml.safe_load(to_yaml(doc)) == (doc or {})
