"""Loads a FunctionApp and indexes its functions by trigger type, as the Functions host does."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func


@dataclass(frozen=True)
class IndexedFunction:
    name: str
    trigger_type: str
    binding_name: str
    trigger: Any
    user_function: Callable[..., Any]

    def invoke(self, value: Any) -> Any:
        result = self.user_function(**{self.binding_name: value})
        if inspect.isawaitable(result):
            return asyncio.run(_await(result))
        return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


@dataclass
class FunctionIndex:
    functions: dict[str, IndexedFunction] = field(default_factory=dict)

    def of_type(self, trigger_type: str) -> list[IndexedFunction]:
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def get(self, name: str) -> IndexedFunction | None:
        return self.functions.get(name)


_INDEXES: weakref.WeakKeyDictionary[func.FunctionApp, FunctionIndex] = weakref.WeakKeyDictionary()


def index_app(app: func.FunctionApp) -> FunctionIndex:
    """Index once per app: ``get_functions()`` refuses to validate the same app twice."""
    cached = _INDEXES.get(app)
    if cached is not None:
        return cached
    index = FunctionIndex()
    for fn in app.get_functions():
        trigger = fn.get_trigger()
        if trigger is None:
            continue
        name = str(fn.get_function_name())
        index.functions[name] = IndexedFunction(
            name=name,
            trigger_type=str(trigger.type),
            binding_name=trigger.name,
            trigger=trigger,
            user_function=fn.get_user_function(),
        )
    _INDEXES[app] = index
    return index


def load_app(spec: str) -> func.FunctionApp:
    """Import ``module:attribute`` (default attribute ``app``)."""
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, attr or "app")
    if not isinstance(app, func.FunctionApp):
        raise TypeError(f"{spec} is not an azure.functions.FunctionApp")
    return app


def export_local_settings(path: Path) -> dict[str, str]:
    """Put ``local.settings.json`` Values into the environment, as ``func start`` does."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    values = {str(k): str(v) for k, v in (doc.get("Values") or {}).items()}
    for key, value in values.items():
        os.environ[key] = value
    return values


def load_host_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
