"""Who registered a model, as azure-ai-ml returns it; SDK errors become Clearance errors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.adapters.aml.registrant import AmlRegistrants
from shared.domain.errors import TransientError


class _Models:
    def __init__(self, result: Any) -> None:
        self.result, self.asked = result, []

    def get(self, *, name: str, version: str) -> Any:
        self.asked.append((name, version))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _lookup(result: Any) -> tuple[AmlRegistrants, _Models]:
    models = _Models(result)
    lookup = AmlRegistrants(credential=object())
    lookup._client = lambda *_: SimpleNamespace(models=models)  # type: ignore[method-assign]
    return lookup, models


def test_the_creator_is_the_models_creation_context() -> None:
    model = SimpleNamespace(creation_context=SimpleNamespace(created_by="Ada Lovelace"))
    lookup, models = _lookup(model)

    found = lookup.registrant("s", "rg", "mlw", "scorer", "3")

    assert found is not None and found.name == "Ada Lovelace"
    assert models.asked == [("scorer", "3")]


def test_a_deleted_model_or_no_context_is_no_registrant() -> None:
    assert _lookup(ResourceNotFoundError("gone"))[0].registrant("s", "rg", "w", "m", "1") is None
    assert (
        _lookup(SimpleNamespace(creation_context=None))[0].registrant("s", "rg", "w", "m", "1")
        is None
    )


def test_a_workspace_error_is_transient() -> None:
    with pytest.raises(TransientError):
        _lookup(HttpResponseError("503"))[0].registrant("s", "rg", "w", "m", "1")
