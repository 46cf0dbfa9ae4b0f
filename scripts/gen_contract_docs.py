"""Regenerate the generated blocks of docs/metadata-contract.md from the code.

    python scripts/gen_contract_docs.py           # rewrite the blocks in place
    python scripts/gen_contract_docs.py --check   # exit 1 when the doc is stale

Blocks sit between ``<!-- BEGIN GENERATED name -->`` and ``<!-- END GENERATED name -->``:
``keys`` (the key convention), ``codes`` (violation codes) and ``schema`` (JSON Schema).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.domain.intake.codes import MEANINGS
from shared.domain.metadata.keys import LABEL_KEYS, NAME, VERSION, LabelKey
from shared.domain.metadata.model import ArtifactKind, ModelMetadata

DOC = Path(__file__).resolve().parents[1] / "docs" / "metadata-contract.md"
_KIND_NAMES = {ArtifactKind.IMAGE: "images", ArtifactKind.AML_MODEL: "AML models"}


def render(doc: str) -> str:
    """``doc`` with every generated block replaced by its current content."""
    for name, body in _blocks().items():
        begin, end = f"<!-- BEGIN GENERATED {name} -->\n", f"<!-- END GENERATED {name} -->"
        start = doc.find(begin)
        stop = doc.find(end, start)
        if start < 0 or stop < 0:
            raise ValueError(f"{DOC.name} has no generated block named {name!r}")
        doc = f"{doc[: start + len(begin)]}{body}\n{doc[stop:]}"
    return doc


def _blocks() -> dict[str, str]:
    schema = json.dumps(ModelMetadata.model_json_schema(), indent=2)
    return {
        "keys": _keys_table(),
        "codes": "\n".join(
            ["| Code | Meaning |", "| --- | --- |"]
            + [f"| `{code}` | {meaning} |" for code, meaning in MEANINGS.items()]
        ),
        "schema": f"```json\n{schema}\n```",
    }


def _keys_table() -> str:
    rows = [
        "| Key | Value | Applies to | Required | Default | Example |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows += [
        f"| `{spec.key}` | The {spec.title} {spec.expected}. | {_applies_to(spec)} "
        f"| {_required(spec)} | {spec.default or ''} | `{spec.example}` |"
        for spec in LABEL_KEYS
    ]
    return "\n".join(rows)


def _required(spec: LabelKey) -> str:
    if spec in (NAME, VERSION):
        return "yes; for AML models the registration supplies it"
    return "yes" if spec.required else "no"


def _applies_to(spec: LabelKey) -> str:
    kinds = " and ".join(_KIND_NAMES[kind] for kind in ArtifactKind if kind in spec.kinds)
    if spec.strategy is None:
        return kinds
    return f"{kinds}, strategy `{spec.strategy}`"


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print(f"{DOC} is stale: run python scripts/gen_contract_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
