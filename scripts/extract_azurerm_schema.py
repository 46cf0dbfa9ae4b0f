#!/usr/bin/env python3
"""Extract a compact azurerm argument schema from the CDK for Terraform bindings, offline.

The npm package @cdktf/provider-azurerm is generated from the provider's own schema: for each
resource and data source, lib/<name>/index.d.ts declares a config interface (one property per
argument and nested block, optional ones marked `?`), and every property's doc link names the
argument in snake case (`.../docs/resources/storage_table#storage_account_name`). Nested
blocks are marked "<name> block" and typed by their own struct interface. This script turns
those declarations into tests/terraform/azurerm_schema.json, for the types terraform/ uses:

    npm pack @cdktf/provider-azurerm@14.23.1 && tar -xzf cdktf-provider-azurerm-14.23.1.tgz
    python3 scripts/extract_azurerm_schema.py package [--all]

--all extracts every azurerm type instead (several MB; not what the repository keeps).
Arguments newer than the package's azurerm version are not here: tests/terraform/
test_schema.py lists them explicitly, each with the provider release that added it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "tests" / "terraform" / "azurerm_schema.json"

_INTERFACE = re.compile(r"^export interface (\w+)(?: extends [\w.]+)? \{\n(.*?)^\}", re.M | re.S)
_PROPERTY = re.compile(
    r"/\*\*(?P<doc>(?:(?!\*/).)*?)\*/\s*readonly (?P<camel>\w+)(?P<optional>\??): (?P<type>[^;]+);",
    re.S,
)
_ANCHOR = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/azurerm/[^#\s]+#(\w+) "
)
_TYPE = re.compile(r'static readonly tfResourceType = "(azurerm_\w+)";')
_USED = re.compile(r'^\s*(resource|data|ephemeral)\s+"(azurerm_\w+)"', re.M)


def _interfaces(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in _INTERFACE.finditer(text)}


def _struct(name: str, interfaces: dict[str, str]) -> dict[str, Any]:
    arguments: dict[str, bool] = {}
    blocks: dict[str, Any] = {}
    for prop in _PROPERTY.finditer(interfaces[name]):
        anchor = _ANCHOR.search(prop.group("doc"))
        if anchor is None:
            raise ValueError(f"{name}.{prop.group('camel')}: no registry anchor in its doc")
        snake, required = anchor.group(1), not prop.group("optional")
        is_block = re.search(rf"^\s*\*\s*{re.escape(snake)} block\s*$", prop.group("doc"), re.M)
        if is_block:
            nested = re.match(r"(\w+)", prop.group("type")).group(1)
            blocks[snake] = {"required": required, **_struct(nested, interfaces)}
        else:
            arguments[snake] = required
    return {"arguments": dict(sorted(arguments.items())), "blocks": dict(sorted(blocks.items()))}


def extract(package: Path, wanted: set[str] | None) -> dict[str, Any]:
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    found: dict[str, dict[str, Any]] = {"resources": {}, "data_sources": {}}
    for dts in sorted((package / "lib").glob("*/index.d.ts")):
        text = dts.read_text(encoding="utf-8")
        match = _TYPE.search(text)
        if match is None:
            continue
        kind = "data_sources" if dts.parent.name.startswith("data-") else "resources"
        rtype = match.group(1)
        if wanted is not None and f"{kind}:{rtype}" not in wanted:
            continue
        interfaces = _interfaces(text)
        (config,) = [n for n in interfaces if n.endswith("Config") and n not in ("Config",)][:1]
        found[kind][rtype] = _struct(config, interfaces)
    return {
        "provenance": {
            "package": meta["name"],
            "package_version": meta["version"],
            "azurerm_version": meta["cdktf"]["provider"]["version"],
            "source": (
                "lib/<type>/index.d.ts config interfaces "
                "(argument names, optional flags, nested blocks)"
            ),
            "generated_by": "scripts/extract_azurerm_schema.py",
            "scope": "all azurerm types" if wanted is None else "the azurerm types terraform/ uses",
        },
        **{kind: dict(sorted(types.items())) for kind, types in found.items()},
    }


def used_types(terraform: Path) -> set[str]:
    used = set()
    for tf in terraform.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        for kind, rtype in _USED.findall(tf.read_text(encoding="utf-8")):
            used.add(f"{'data_sources' if kind == 'data' else 'resources'}:{rtype}")
    return used


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("package", type=Path, help="the unpacked npm package directory")
    parser.add_argument(
        "--all", action="store_true", help="every azurerm type, not only the used ones"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    wanted = None if args.all else used_types(REPO / "terraform")
    schema = extract(args.package, wanted)
    missing = sorted(w for w in wanted or () if w.split(":")[1] not in schema[w.split(":")[0]])
    if missing:
        print(f"not in the package: {missing}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    counts = {k: len(v) for k, v in schema.items() if k != "provenance"}
    print(f"wrote {args.output} ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
