"""From the Functions binding to an IncomingEvent: deep data is a recorded rejection."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

from shared.domain.errors import InputError
from shared.domain.intake.codes import IntakeCode
from shared.services.intake.binding import from_binding


def nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def binding(data: Any) -> func.EventGridEvent:
    return func.EventGridEvent(
        id="e1",
        data=data,
        topic="/subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerRegistry/registries/z",
        subject="repo:tag",
        event_type="Microsoft.ContainerRegistry.ImagePushed",
        event_time=None,
        data_version="1.0",
    )


def test_ordinary_data_passes() -> None:
    assert from_binding(binding({"target": nested(10)})).id == "e1"


@pytest.mark.parametrize("levels", [100, 5000])
def test_data_nested_too_deep_is_an_input_error_not_a_crash(levels: int) -> None:
    with pytest.raises(InputError) as caught:
        from_binding(binding({"target": nested(levels)}))
    (violation,) = caught.value.violations
    assert violation.code == IntakeCode.EVENT_TOO_LARGE
