"""Structural rules over parsed Terraform. Each returns the list of violations it finds, so the
tests can show a rule passes on the real tree and catches a deliberately broken copy."""

from __future__ import annotations

import re
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from tests.terraform.hcl import Module, unwrap

_IN_REGION = re.compile(r"^(var\.region|azurerm_resource_group\.\w+(\[\d+\])?\.location)$")


def location_violations(module: Module) -> list[str]:
    """Resources whose location is not the module's region (var.region or its resource group)."""
    return [
        f"{address}: location = {body['location']}"
        for address, body in module.resources.items()
        if "location" in body and not _IN_REGION.match(str(unwrap(body["location"])))
    ]


def _scopes(module: Module, body: dict[str, Any]) -> list[str]:
    scope = unwrap(body["scope"])
    if scope.startswith("each.value.") and "for_each" in body:
        # local.x, or a conditional whose non-empty branch is local.x.
        (source,) = re.findall(r"\blocal\.(\w+)", unwrap(body["for_each"]))
        table = module.locals[source]
        field = scope.removeprefix("each.value.")
        return [entry[field] for entry in table.values()]
    return [body["scope"]]


def foreign_scopes(module: Module, allowed_inputs: set[str]) -> list[str]:
    """Role assignment scopes that are neither the module's own resources nor allowed inputs.

    An allowed input is a variable or local naming this region's own registry, cluster or
    workspace; whether it really is the region's own is checked where the root wires it.
    """
    own = r"(azurerm|azapi)_\w+\.\w+(\[[^\]]+\])?\.id"
    inputs = "|".join(re.escape(name) for name in sorted(allowed_inputs)) or "(?!)"
    allowed = re.compile(rf"^\$\{{({own}|{inputs})\}}([\w./-]|\$\{{each\.value\}})*$")
    return [
        f"{address}: scope {scope}"
        for address, body in module.of_type("azurerm_role_assignment").items()
        for scope in _scopes(module, body)
        if not allowed.match(scope)
    ]


def missing_settings(app_settings: dict[str, Any], required: set[str]) -> list[str]:
    return sorted(required - set(app_settings))


def non_reference_secrets(app_settings: dict[str, Any], secret_names: set[str]) -> list[str]:
    """Secret settings whose value is not a Key Vault reference."""
    return sorted(
        name
        for name in secret_names
        if not str(app_settings.get(name, "")).startswith("@Microsoft.KeyVault(SecretUri=")
    )


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [m for m in map(_model_of, get_args(annotation)) if m is not None]
        return models[0] if models else None
    return None


def model_mismatches(obj: dict[str, Any], model: type[BaseModel], path: str = "") -> list[str]:
    """Keys of an object literal that the pydantic model would reject or miss, recursively.

    Values that are references (strings) are not followed: they are checked where defined.
    """
    fields = model.model_fields
    problems = [f"{path}{key}: not a field of {model.__name__}" for key in obj if key not in fields]
    problems += [
        f"{path}{name}: required by {model.__name__} but not set"
        for name, info in fields.items()
        if info.is_required() and name not in obj
    ]
    for key, value in obj.items():
        nested = _model_of(fields[key].annotation) if key in fields else None
        if nested is not None and isinstance(value, dict):
            problems += model_mismatches(value, nested, f"{path}{key}.")
    return problems
