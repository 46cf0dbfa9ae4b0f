"""What it takes to serve a model: port, probes and resources for images; compute for AML models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.domain.metadata.quantity import (
    CPU_PATTERN,
    MEMORY_PATTERN,
    cpu_millicores,
    memory_bytes,
)
from shared.domain.metadata.value_rules import contract_error


def _safe_path(path: str) -> str:
    if "//" in path or "/../" in f"{path}/" or "/./" in f"{path}/":
        raise contract_error("must not contain empty, '.' or '..' segments")
    return path


def _more_than_zero_cpu(quantity: str) -> str:
    if cpu_millicores(quantity) == 0:
        raise contract_error("must be more than zero")
    return quantity


CpuQuantity = Annotated[str, Field(pattern=CPU_PATTERN), AfterValidator(_more_than_zero_cpu)]


def _more_than_zero_memory(quantity: str) -> str:
    if memory_bytes(quantity) == 0:
        raise contract_error("must be more than zero")
    return quantity


MemoryQuantity = Annotated[
    str, Field(pattern=MEMORY_PATTERN), AfterValidator(_more_than_zero_memory)
]
HealthPath = Annotated[
    str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$", max_length=256), AfterValidator(_safe_path)
]
# Pods run as non-root, so privileged ports (< 1024) cannot be bound.
Port = Annotated[int, Field(strict=True, ge=1024, le=65535)]
InstanceType = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Frozen):
    """Kubernetes requests, and optional limits that may not be below them."""

    cpu: CpuQuantity
    memory: MemoryQuantity
    cpu_limit: CpuQuantity | None = None
    memory_limit: MemoryQuantity | None = None

    @field_validator("cpu_limit")
    @classmethod
    def _cpu_limit_covers_request(cls, limit: str | None, info: ValidationInfo) -> str | None:
        request = info.data.get("cpu")
        if (
            limit is not None
            and request is not None
            and cpu_millicores(limit) < cpu_millicores(request)
        ):
            raise contract_error(f"must not be below the CPU request ({request})")
        return limit

    @field_validator("memory_limit")
    @classmethod
    def _memory_limit_covers_request(cls, limit: str | None, info: ValidationInfo) -> str | None:
        request = info.data.get("memory")
        if (
            limit is not None
            and request is not None
            and memory_bytes(limit) < memory_bytes(request)
        ):
            raise contract_error(f"must not be below the memory request ({request})")
        return limit


class ImageServing(_Frozen):
    """A container image serves HTTP itself: Clearance needs its port, probe and resources."""

    kind: Literal["image"] = "image"
    port: Port
    health_path: HealthPath
    resources: Resources


class AmlServing(_Frozen):
    """An Azure ML model runs on the region's AML Kubernetes compute."""

    kind: Literal["aml_model"] = "aml_model"
    instance_type: InstanceType | None = None
    instance_count: Annotated[int, Field(strict=True, ge=1, le=20)] = 1


Serving = Annotated[ImageServing | AmlServing, Field(discriminator="kind")]
