"""How a new model version replaces the serving one: the rollout strategies and their parameters."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.domain.metadata.value_rules import contract_error

StrategyName = Literal["rolling", "blue-green", "canary", "shadow"]
STRATEGY_NAMES: tuple[StrategyName, ...] = ("rolling", "blue-green", "canary", "shadow")

Percent = Annotated[int, Field(strict=True, ge=1, le=100)]
# A Kubernetes IntOrString pod budget: a number of pods, or a percentage of the replicas.
PodBudget = (
    Annotated[int, Field(strict=True, ge=0, le=1000)]
    | Annotated[str, Field(pattern=r"^(?:100|[1-9]?[0-9])%$")]
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rolling(_Frozen):
    """Replace pods gradually. Unset budgets keep the Kubernetes defaults (25% / 25%)."""

    strategy: Literal["rolling"] = "rolling"
    max_surge: PodBudget | None = None
    max_unavailable: PodBudget | None = None

    @field_validator("max_unavailable")
    @classmethod
    def _can_progress(cls, value: int | str | None, info: ValidationInfo) -> int | str | None:
        surge = info.data.get("max_surge")
        if value in (0, "0%") and surge in (0, "0%"):
            raise contract_error("must not be zero when the maximum surge is zero too")
        return value


class BlueGreen(_Frozen):
    """Start the new version next to the old one, switch all traffic, keep the old one a while."""

    strategy: Literal["blue-green"] = "blue-green"
    keep_previous_minutes: Annotated[int, Field(strict=True, ge=0, le=1440)] = 30


class Canary(_Frozen):
    """Shift traffic in increasing steps, baking at each step before the next one."""

    strategy: Literal["canary"] = "canary"
    steps: tuple[Percent, ...] = Field(min_length=2, max_length=10)
    bake_minutes: Annotated[int, Field(strict=True, ge=1, le=1440)] = 10

    @field_validator("steps")
    @classmethod
    def _increasing_to_full(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if any(later <= earlier for earlier, later in pairwise(steps)):
            raise contract_error("must increase strictly from one step to the next")
        if steps[-1] != 100:
            raise contract_error("must end at 100")
        return steps


class Shadow(_Frozen):
    """Mirror a share of live traffic to the new version, whose answers are discarded."""

    strategy: Literal["shadow"] = "shadow"
    mirror_percent: Percent
    duration_minutes: Annotated[int, Field(strict=True, ge=1, le=10080)] = 60


RolloutStrategy = Annotated[Rolling | BlueGreen | Canary | Shadow, Field(discriminator="strategy")]
