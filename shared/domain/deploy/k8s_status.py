"""Has a Deployment finished rolling out? The rules ``kubectl rollout status`` applies."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Condition:
    status: str  # "True" | "False" | "Unknown"
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class DeploymentStatus:
    generation: int
    observed_generation: int
    replicas: int  # desired (spec.replicas)
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    total_replicas: int = 0  # status.replicas: old and new pods together
    conditions: dict[str, Condition] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    done: bool
    failed: bool
    message: str


def rollout_progress(status: DeploymentStatus) -> Progress:
    if status.observed_generation < status.generation:
        return Progress(False, False, "waiting for the controller to observe the new spec")
    progressing = status.conditions.get("Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        return Progress(False, True, progressing.message or "progress deadline exceeded")
    if status.updated_replicas < status.replicas:
        return Progress(
            False,
            False,
            f"{status.updated_replicas} of {status.replicas} new replicas updated",
        )
    if status.total_replicas > status.updated_replicas:
        old = status.total_replicas - status.updated_replicas
        return Progress(False, False, f"{old} old replicas pending termination")
    if status.available_replicas < status.updated_replicas:
        return Progress(
            False,
            False,
            f"{status.available_replicas} of {status.updated_replicas} updated replicas available",
        )
    return Progress(True, False, "successfully rolled out")


def healthy(status: DeploymentStatus | None) -> tuple[bool, str]:
    """The health gate: the Deployment exists, is Available and fully rolled out."""
    if status is None:
        return False, "the Deployment does not exist"
    available = status.conditions.get("Available")
    if available is None or available.status != "True":
        if available is None:
            return False, "the Deployment is not Available (no Available condition)"
        detail = (
            f"{available.reason}: {available.message}" if available.message else available.reason
        )
        return False, f"the Deployment is not Available ({detail})"
    progress = rollout_progress(status)
    if progress.failed or not progress.done:
        return False, progress.message
    return True, f"{status.available_replicas}/{status.replicas} replicas available"
