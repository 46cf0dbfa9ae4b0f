"""The layer rule, read from every module's imports (including imports inside functions).

- ``shared/domain/**`` is pure: the standard library, pydantic, PyYAML and the schema validator,
  and other domain modules; no SDK, no adapter, no service, no port.
- ``shared/ports/**`` imports domain only.
- ``shared/adapters/**`` imports domain, ports and other adapters; never a service.
- ``shared/services/**`` imports domain, ports and services; never a concrete adapter (the
  composition root wires adapters in).
- No folder under ``shared/`` holds more than about 15 modules directly, and no two modules in
  one folder share a naming prefix that a sub-package would carry.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / "shared"

# Third-party packages the pure domain may use: models, YAML, and the Kubernetes schema check
# (offline data files, no client) with the JSON Schema libraries it validates with.
DOMAIN_THIRD_PARTY = {
    "pydantic",
    "pydantic_core",
    "yaml",
    "kubernetes_validate",
    "jsonschema",
    "referencing",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_violations(layer: str, path: Path) -> list[str]:
    """What ``path`` (a module of ``layer``) imports that its layer may not."""
    found = []
    for name in sorted(imported_modules(path)):
        top = name.split(".")[0]
        inner = name.split(".")[1] if name.startswith("shared.") and "." in name else None
        if layer == "domain":
            if (top == "shared" and inner != "domain") or top not in {
                "shared",
                *sys.stdlib_module_names,
                *DOMAIN_THIRD_PARTY,
            }:
                found.append(name)
        elif layer == "ports":
            if top == "shared" and inner not in {"domain", "ports"}:
                found.append(name)
        elif layer == "adapters":
            if top == "shared" and inner not in {"domain", "ports", "adapters", "queues"}:
                found.append(name)
        elif layer == "services" and top == "shared" and inner in {"adapters", "composition"}:
            found.append(name)
    return found


LAYERS = ["domain", "ports", "adapters", "services"]
MODULES = [(layer, p) for layer in LAYERS for p in sorted((SHARED / layer).rglob("*.py"))]


@pytest.mark.parametrize(
    ("layer", "path"), MODULES, ids=[str(p.relative_to(REPO)) for _, p in MODULES]
)
def test_module_keeps_to_its_layer(layer: str, path: Path) -> None:
    assert layer_violations(layer, path) == []


@pytest.mark.parametrize(
    ("layer", "source", "bad"),
    [
        ("domain", "import azure.data.tables\n", "azure.data.tables"),
        ("domain", "def f():\n    from kubernetes import client\n", "kubernetes"),
        (
            "domain",
            "from shared.adapters.storage.approvals import X\n",
            "shared.adapters.storage.approvals",
        ),
        (
            "domain",
            "from shared.services.intake.handlers import X\n",
            "shared.services.intake.handlers",
        ),
        (
            "adapters",
            "from shared.services.deploy.rollouts import X\n",
            "shared.services.deploy.rollouts",
        ),
        (
            "services",
            "from shared.adapters.registry.acr import X\n",
            "shared.adapters.registry.acr",
        ),
        (
            "ports",
            "from shared.services.approval.requests import X\n",
            "shared.services.approval.requests",
        ),
    ],
)
def test_the_rule_catches_what_it_forbids(
    layer: str, source: str, bad: str, tmp_path: Path
) -> None:
    module = tmp_path / "module.py"
    module.write_text(source)
    assert layer_violations(layer, module) == [bad]


def test_folders_stay_small_and_carry_no_shared_prefix() -> None:
    for folder in [SHARED, *(p for p in SHARED.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__":
            continue
        modules = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
        assert len(modules) <= 15, f"{folder.relative_to(REPO)} holds {len(modules)} modules"
        prefixes = Counter(m.split("_")[0] for m in modules if "_" in m)
        crowded = {p: n for p, n in prefixes.items() if n >= 3}
        assert not crowded, f"{folder.relative_to(REPO)}: prefixes {crowded}"
