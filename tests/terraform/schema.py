"""Argument and block names of every resource in terraform/, checked against a provider schema
obtained offline (tests/terraform/azurerm_schema.json, scripts/extract_azurerm_schema.py).

What this covers: unknown arguments, unknown nested blocks, an argument written as a block or
the other way round, missing required arguments and blocks, and resource types the schema
does not know. What it does not: value types, allowed values, conflicts between arguments,
deprecations, and anything decided at plan or apply time (docs/operators.md, "Checking the
Terraform"). Only `terraform validate` against the real provider covers those.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import hcl2.api
from hcl2.utils import SerializationOptions

from tests.terraform.hcl import TERRAFORM

SCHEMA_FILE = Path(__file__).with_name("azurerm_schema.json")

_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=True, with_comments=False)

# Terraform's own meta-arguments and meta-blocks, valid on every resource / data source.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
META_BLOCKS = {
    "lifecycle": {
        "arguments": {
            "create_before_destroy",
            "prevent_destroy",
            "ignore_changes",
            "replace_triggered_by",
        },
        "blocks": {"precondition", "postcondition"},
    },
}
CONDITION = {"arguments": {"condition": True, "error_message": True}, "blocks": {}}

# Arguments azurerm added after the schema's version (4.55.0), each with the release that added
# it, checked against the provider's CHANGELOG.md / source. The version floor in every
# versions.tf (>= 4.77.0) must be at least the newest release listed here.
NEWER_ARGUMENTS: dict[tuple[str, str], str] = {
    # "azurerm_machine_learning_workspace - support for the storage_account_access_type
    # property" (values AccessKey / Identity).
    ("azurerm_machine_learning_workspace", "storage_account_access_type"): "4.77.0",
}


def _block(arguments: dict[str, bool], blocks: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"arguments": arguments, "blocks": blocks or {}}


_TIMEOUTS = {
    "required": False,
    **_block(dict.fromkeys(("create", "read", "update", "delete"), False)),
}

# Providers other than azurerm, minimal and hand-written from their registry docs: the
# arguments this repository may use. A new argument fails the test until added here, with
# its documentation checked.
OTHER_PROVIDERS: dict[str, dict[str, Any]] = {
    # Azure/azapi 2.x, docs/resources/resource.md and update_resource.md.
    "azapi_resource": _block(
        {
            "type": True,
            "name": False,
            "parent_id": False,
            "location": False,
            "body": False,
            "tags": False,
            "response_export_values": False,
            "schema_validation_enabled": False,
            "ignore_missing_property": False,
            "ignore_casing": False,
            "locks": False,
            "replace_triggers_external_values": False,
            "replace_triggers_refs": False,
            "retry": False,
            "sensitive_body": False,
            "sensitive_body_version": False,
        },
        {
            "identity": {"required": False, **_block({"type": True, "identity_ids": False})},
            "timeouts": _TIMEOUTS,
        },
    ),
    "azapi_update_resource": _block(
        {
            "type": True,
            "name": False,
            "parent_id": False,
            "resource_id": False,
            "body": False,
            "response_export_values": False,
            "locks": False,
            "ignore_casing": False,
            "ignore_missing_property": False,
        },
        {"timeouts": _TIMEOUTS},
    ),
    # hashicorp/time 0.x, docs/resources/sleep.md.
    "time_sleep": _block({"create_duration": False, "destroy_duration": False, "triggers": False}),
    # hashicorp/random 3.x, docs/ephemeral-resources/password.md.
    "random_password": _block(
        {
            "length": True,
            "special": False,
            "upper": False,
            "lower": False,
            "numeric": False,
            "min_special": False,
            "min_upper": False,
            "min_lower": False,
            "min_numeric": False,
            "override_special": False,
        },
    ),
    # hashicorp/azuread 3.x, docs/resources/app_role_assignment.md and
    # docs/data-sources/service_principal.md.
    "azuread_app_role_assignment": _block(
        {"app_role_id": True, "principal_object_id": True, "resource_object_id": True},
        {"timeouts": _TIMEOUTS},
    ),
    "data.azuread_service_principal": _block(
        {"client_id": False, "display_name": False, "object_id": False},
        {"timeouts": _TIMEOUTS},
    ),
}


@cache
def azurerm_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _schema_for(kind: str, rtype: str) -> dict[str, Any] | None:
    key = f"data.{rtype}" if kind == "data" else rtype
    if key in OTHER_PROVIDERS:
        return OTHER_PROVIDERS[key]
    if rtype.startswith("azurerm_"):
        table = azurerm_schema()["data_sources" if kind == "data" else "resources"]
        return table.get(rtype)
    return None


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _body_problems(
    where: str, rtype: str, body: dict[str, Any], schema: dict[str, Any], top: bool
) -> list[str]:
    problems: list[str] = []
    arguments: dict[str, bool] = schema["arguments"]
    blocks: dict[str, Any] = schema["blocks"]
    present: set[str] = set()
    for key, value in body.items():
        if key == "__is_block__":
            continue
        if key == "dynamic" and isinstance(value, list):
            for dynamic in value:
                for name, spec in dynamic.items():
                    if name == "__is_block__":
                        continue
                    present.add(name)
                    if name not in blocks:
                        problems.append(f"{where}: unknown block {name} (dynamic)")
                        continue
                    for content in spec.get("content", []):
                        problems += _body_problems(
                            f"{where}.{name}", rtype, content, blocks[name], False
                        )
            continue
        if top and key in META_ARGUMENTS:
            continue
        if top and key in META_BLOCKS and _is_block(value):
            problems += _meta_problems(f"{where}.{key}", value, META_BLOCKS[key])
            continue
        present.add(key)
        if _is_block(value):
            if key in blocks:
                for item in value:
                    problems += _body_problems(f"{where}.{key}", rtype, item, blocks[key], False)
            elif key in arguments:
                problems.append(f"{where}: {key} is an argument, written as a block")
            else:
                problems.append(f"{where}: unknown block {key}")
        elif key in arguments or ((rtype, key) in NEWER_ARGUMENTS and top):
            continue
        elif key in blocks:
            problems.append(f"{where}: {key} is a block, written as an argument")
        else:
            problems.append(f"{where}: unknown argument {key}")
    problems += [
        f"{where}: missing required argument {name}"
        for name, required in arguments.items()
        if required and name not in present
    ]
    problems += [
        f"{where}: missing required block {name}"
        for name, spec in blocks.items()
        if spec["required"] and name not in present
    ]
    return problems


def _meta_problems(where: str, value: list[dict[str, Any]], spec: dict[str, Any]) -> list[str]:
    problems = []
    for item in value:
        for key, nested in item.items():
            if key == "__is_block__" or key in spec["arguments"]:
                continue
            if key in spec["blocks"] and _is_block(nested):
                for condition in nested:
                    problems += _body_problems(f"{where}.{key}", "", condition, CONDITION, False)
            else:
                problems.append(f"{where}: unknown lifecycle entry {key}")
    return problems


def load(path: Path) -> dict[str, Any]:
    return hcl2.api.loads(path.read_text(encoding="utf-8"), serialization_options=_OPTIONS)


def tf_files(root: Path = TERRAFORM) -> list[Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def file_problems(path: Path, root: Path = TERRAFORM) -> list[str]:
    """Every schema violation of the resources, data sources and ephemeral resources of a file."""
    problems = []
    document = load(path)
    for kind in ("resource", "data", "ephemeral"):
        for block in document.get(kind, []):
            for rtype, by_name in block.items():
                if rtype == "__is_block__":
                    continue
                for name, body in by_name.items():
                    if name == "__is_block__":
                        continue
                    prefix = (
                        "data." if kind == "data" else ("ephemeral." if kind == "ephemeral" else "")
                    )
                    where = f"{path.relative_to(root)}: {prefix}{rtype}.{name}"
                    schema = _schema_for(kind, rtype)
                    if schema is None:
                        problems.append(f"{where}: type not in the offline schema")
                        continue
                    problems += _body_problems(where, rtype, body, schema, True)
    return problems


def tree_problems(root: Path = TERRAFORM) -> list[str]:
    return [problem for path in tf_files(root) for problem in file_problems(path, root)]
