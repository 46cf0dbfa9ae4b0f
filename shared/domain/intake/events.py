"""The two intake events, read from their Event Grid ``data`` into strict models.

ACR ``Microsoft.ContainerRegistry.ImagePushed`` and AML
``Microsoft.MachineLearningServices.ModelRegistered``. AML's data is documented both in
PascalCase (``ModelName``, numeric ``ModelVersion``) and camelCase (string ``modelVersion``):
both are read. Anything else is a malformed event, reported with every problem found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.artifact import Digest, Repository
from shared.domain.catalog import LoginServer
from shared.domain.errors import InputError, Violation
from shared.domain.intake.codes import IntakeCode

IMAGE_PUSHED = "Microsoft.ContainerRegistry.ImagePushed"
MODEL_REGISTERED = "Microsoft.MachineLearningServices.ModelRegistered"
_WORKSPACE_TOPIC = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[^/]{1,90})"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]{1,64})$",
    re.IGNORECASE,
)
MAX_TAGS = 256


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImagePushed(_Frozen):
    event_id: str = Field(min_length=1, max_length=128)
    login_server: LoginServer
    repository: Repository
    digest: Digest
    tag: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
    media_type: str = Field(default="", max_length=255)
    location: str | None = Field(default=None, max_length=64)
    pushed_by: str | None = Field(default=None, max_length=320)


class ModelRegistered(_Frozen):
    event_id: str = Field(min_length=1, max_length=128)
    subscription_id: str
    resource_group: str
    workspace: str
    name: str = Field(min_length=1, max_length=255)
    version: str = Field(min_length=1, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)


def _malformed(exc: ValidationError, prefix: str) -> InputError:
    violations = [
        Violation(
            IntakeCode.EVENT_MALFORMED,
            f"The event's {prefix}{'.'.join(str(p) for p in e['loc'])} is unusable: {e['msg']}.",
            ".".join(str(p) for p in e["loc"]) or None,
        )
        for e in exc.errors()
    ]
    return InputError(violations)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    return value if isinstance(value, Mapping) else {}


def parse_image_pushed(event_id: str, data: Any) -> ImagePushed:
    if not isinstance(data, Mapping):
        raise InputError([Violation(IntakeCode.EVENT_MALFORMED, "The event has no data object.")])
    target = _section(data, "target")
    request = _section(data, "request")
    actor = _section(data, "actor")
    raw = {
        "event_id": event_id,
        "login_server": str(request.get("host", "")).lower(),
        "repository": target.get("repository"),
        "digest": target.get("digest"),
        "tag": target.get("tag") or None,
        "media_type": target.get("mediaType") or "",
        "location": data.get("location"),
        "pushed_by": actor.get("name") or None,
    }
    try:
        return ImagePushed.model_validate(raw)
    except ValidationError as exc:
        raise _malformed(exc, "") from None


def _pick(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in data:
            return data[name]
    return None


def _string_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(
            [Violation(IntakeCode.EVENT_MALFORMED, f"The model's {what} are not a map.")]
        )
    if len(value) > MAX_TAGS:
        raise InputError(
            [Violation(IntakeCode.META_TOO_MANY, f"The model carries {len(value)} {what}.")]
        )
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def parse_model_registered(event_id: str, topic: str, data: Any) -> ModelRegistered:
    if not isinstance(data, Mapping):
        raise InputError([Violation(IntakeCode.EVENT_MALFORMED, "The event has no data object.")])
    match = _WORKSPACE_TOPIC.match(topic or "")
    if match is None:
        raise InputError(
            [
                Violation(
                    IntakeCode.EVENT_MALFORMED,
                    "The event's topic is not an Azure ML workspace resource id.",
                    "topic",
                )
            ]
        )
    version = _pick(data, "ModelVersion", "modelVersion")
    if isinstance(version, bool):
        version = None
    if isinstance(version, int | float):
        version = str(int(version)) if float(version).is_integer() else str(version)
    raw = {
        "event_id": event_id,
        "subscription_id": match["sub"],
        "resource_group": match["rg"],
        "workspace": match["ws"],
        "name": _pick(data, "ModelName", "modelName"),
        "version": version,
        "tags": _string_map(_pick(data, "ModelTags", "modelTags"), "tags"),
        "properties": _string_map(_pick(data, "ModelProperties", "modelProperties"), "properties"),
    }
    try:
        return ModelRegistered.model_validate(raw)
    except ValidationError as exc:
        raise _malformed(exc, "") from None
