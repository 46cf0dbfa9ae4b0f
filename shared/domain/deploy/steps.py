"""A rollout strategy as a sequence of steps, the same for every driver.

Each step runs in one invocation; the next one is scheduled after the step's bake time, so a
canary that bakes for hours never holds a Function open. A gated step first checks the health
of what the previous step started; a failed gate restores the previous revision.

| strategy   | steps (with a previous revision)                              | without one |
| ---------- | ------------------------------------------------------------- | ----------- |
| rolling    | promote*                                                      | promote*    |
| blue-green | deploy-<colour>, switch* (keep old), retire                   | deploy, switch* |
| canary     | canary-<w1> .. canary-<wn-1> (bake each), promote*            | promote*    |
| shadow     | shadow (mirror, for its duration), promote*                   | promote*    |
| rollback   | restore*                                                      |             |

(* the step after which the new revision is live.)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.domain.deploy.plan import DeploymentPlan, DriverKind
from shared.domain.metadata.rollout import BlueGreen, Canary, Rolling, Shadow


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weight: int | None = None  # canary traffic share, or mirrored share, in percent
    bake_seconds: int = 0  # wait after this step before the next one starts
    gated: bool = False  # check the health of the candidate before this step
    serving: bool = False  # after this step the new revision is the live one


PROMOTE = Step(name="promote", serving=True)


def steps_for(plan: DeploymentPlan) -> tuple[Step, ...]:
    strategy = plan.strategy
    first = plan.replaces is None
    if plan.is_rollback:
        return (Step(name="restore", serving=True),)
    if isinstance(strategy, Rolling):
        return (PROMOTE,)
    if isinstance(strategy, BlueGreen):
        deploy = Step(name=f"deploy-{plan.release.track}")
        if first:
            return deploy, Step(name="switch", gated=True, serving=True)
        keep = strategy.keep_previous_minutes * 60
        return (
            deploy,
            Step(name="switch", gated=True, serving=True, bake_seconds=keep),
            Step(name="retire", gated=True),
        )
    if first:
        return (PROMOTE,)
    if isinstance(strategy, Canary):
        bake = strategy.bake_minutes * 60
        canaries = tuple(
            Step(name=f"canary-{w}", weight=w, bake_seconds=bake, gated=i > 0)
            for i, w in enumerate(strategy.steps[:-1])
        )
        return (*canaries, PROMOTE.model_copy(update={"gated": True}))
    if isinstance(strategy, Shadow):
        if plan.driver is DriverKind.AML:
            raise ValueError("shadow is refused for AML plans by build_plan")
        shadow = Step(
            name="shadow",
            weight=strategy.mirror_percent,
            bake_seconds=strategy.duration_minutes * 60,
        )
        return shadow, PROMOTE.model_copy(update={"gated": True})
    raise ValueError(f"unknown strategy {strategy!r}")
