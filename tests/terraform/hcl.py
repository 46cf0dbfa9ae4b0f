"""Reading the Terraform tree with python-hcl2 (no Terraform binary needed).

Blocks come back as python-hcl2 renders them with ``strip_string_quotes``: literal strings are
plain, references and templates are ``${...}`` strings, nested object literals are dicts.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2.api
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
ENVIRONMENTS = TERRAFORM / "environments"

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)


def loads(text: str) -> dict[str, Any]:
    return hcl2.api.loads(text, serialization_options=_OPTIONS)


@cache
def load_file(path: Path) -> dict[str, Any]:
    return loads(path.read_text(encoding="utf-8"))


class Module:
    """The merged blocks of every .tf file of one directory."""

    def __init__(self, blocks_by_file: dict[str, dict[str, Any]]) -> None:
        self.files = blocks_by_file

    @classmethod
    def load(cls, directory: Path) -> Module:
        return cls({p.name: load_file(p) for p in sorted(directory.glob("*.tf"))})

    def _blocks(self, kind: str) -> list[Any]:
        return [block for doc in self.files.values() for block in doc.get(kind, [])]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """'type.name' -> body, for resource and ephemeral blocks."""
        found: dict[str, dict[str, Any]] = {}
        for kind in ("resource", "ephemeral"):
            for block in self._blocks(kind):
                for rtype, by_name in block.items():
                    for name, body in by_name.items():
                        found[f"{rtype}.{name}"] = body
        return found

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if k.split(".")[0] == rtype}

    @property
    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for block in self._blocks("locals"):
            merged.update(block)
        return merged

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return {n: b for block in self._blocks("variable") for n, b in block.items()}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return {n: b for block in self._blocks("output") for n, b in block.items()}

    @property
    def module_calls(self) -> dict[str, dict[str, Any]]:
        return {n: b for block in self._blocks("module") for n, b in block.items()}


def unwrap(expr: Any) -> Any:
    """'${var.x}' -> 'var.x'; anything that is not a single interpolation is returned as is."""
    if isinstance(expr, str) and expr.startswith("${") and expr.endswith("}"):
        inner = expr[2:-1]
        if "${" not in inner:
            return inner
    return expr


_REFERENCE = re.compile(r"\b(?:var|local|module|each|data|azurerm_\w+|azapi_\w+)\.[\w.\[\]\"]+")


def references(expr: Any) -> list[str]:
    """Every reference (var.x, local.y[...], azurerm_t.n.attr, ...) inside an expression."""
    return _REFERENCE.findall(expr) if isinstance(expr, str) else []


def object_literals(expr: str) -> list[dict[str, Any]]:
    """The outermost object literals inside an expression (for bodies, conditional branches)."""
    found: list[dict[str, Any]] = []
    for group in _brace_groups(expr):
        inner = group[1:-1].strip()
        if inner.startswith("for "):
            body = inner.split("=>", 1)[1] if "=>" in inner else inner.split(":", 1)[1]
            found.extend(object_literals(body))
        elif "=" in inner:
            found.append(loads(f"x = {group}\n")["x"])
    return found


def _brace_groups(text: str) -> list[str]:
    """Balanced top-level '{...}' groups, skipping '${' interpolations and quoted strings."""
    groups, depth, start, i, in_string = [], 0, 0, 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "$" and text[i + 1 : i + 2] == "{" and depth == 0:
            i += 2  # the interpolation wrapper itself is not an object
            continue
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                groups.append(text[start : i + 1])
        i += 1
    return groups


def object_type_attributes(type_expr: str) -> dict[str, bool]:
    """Top-level attributes of an ``object({...})`` type constraint -> whether each is required
    (not wrapped in ``optional(...)``)."""
    inner = unwrap(type_expr).strip()
    if not inner.startswith("object({") or not inner.endswith("})"):
        raise ValueError(f"not an object type: {type_expr}")
    body = inner[len("object({") : -2]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    attributes = {}
    for part in filter(str.strip, parts):
        name, value = part.split("=", 1)
        attributes[name.strip()] = not value.strip().startswith("optional(")
    return attributes
