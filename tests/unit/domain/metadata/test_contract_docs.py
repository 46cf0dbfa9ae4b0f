"""docs/metadata-contract.md and examples/ stay true to the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from shared.domain.intake.codes import MEANINGS, IntakeCode

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "metadata-contract.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_contract_docs", ROOT / "scripts" / "gen_contract_docs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_blocks_are_current() -> None:
    doc = DOC.read_text(encoding="utf-8")

    assert _generator().render(doc) == doc, "run: python scripts/gen_contract_docs.py"


def test_a_stale_block_is_regenerated() -> None:
    stale = DOC.read_text(encoding="utf-8").replace("CLR-META-CONFLICT` |", "CLR-META-GONE` |")

    assert "CLR-META-GONE" not in _generator().render(stale)


def test_a_missing_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="has no generated block"):
        _generator().render("<!-- BEGIN GENERATED keys -->\n<!-- END GENERATED keys -->")


def test_every_code_has_a_meaning_and_a_test() -> None:
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))

    assert set(MEANINGS) == set(IntakeCode)
    untested = [
        code.value
        for code in IntakeCode
        if not re.search(rf"\b(?:{code.name}|{code.value})\b", tests)
    ]
    assert untested == []


def test_the_dockerfile_example_carries_the_labels_file() -> None:
    dockerfile = (ROOT / "examples" / "Dockerfile").read_text(encoding="utf-8")
    label_block = dockerfile.split("\nLABEL ", 1)[1]
    labels = dict(
        line.split("=", 1)
        for line in (ROOT / "examples" / "labels.env").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    build_args = {"VERSION": labels["org.opencontainers.image.version"]}
    build_args["REVISION"] = labels["org.opencontainers.image.revision"]

    declared = {
        key: re.sub(r"\$\{(\w+)\}", lambda m: build_args[m[1]], value)
        for key, value in re.findall(r'([\w.-]+)="([^"]*)"', label_block)
    }

    assert declared == labels
