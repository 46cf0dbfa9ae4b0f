"""Why a deployment did not happen or was taken back: stable codes for lineage and mail."""

from __future__ import annotations

from enum import StrEnum

from shared.domain.errors import TerminalError, Violation


class DeployCode(StrEnum):
    WRONG_REGION = "CLR-DEPLOY-WRONG-REGION"
    NOT_TARGETED = "CLR-DEPLOY-NOT-TARGETED"
    FOREIGN_REGISTRY = "CLR-DEPLOY-FOREIGN-REGISTRY"
    FOREIGN_WORKSPACE = "CLR-DEPLOY-FOREIGN-WORKSPACE"
    BAD_ARTIFACT = "CLR-DEPLOY-BAD-ARTIFACT"
    BAD_APPROVAL = "CLR-DEPLOY-BAD-APPROVAL"
    NO_TARGET = "CLR-DEPLOY-NO-TARGET"
    STRATEGY_UNSUPPORTED = "CLR-DEPLOY-STRATEGY-UNSUPPORTED"
    NAMESPACE_CHANGED = "CLR-DEPLOY-NAMESPACE-CHANGED"
    INVALID_MANIFEST = "CLR-DEPLOY-INVALID-MANIFEST"
    PROGRESS_DEADLINE = "CLR-DEPLOY-PROGRESS-DEADLINE"
    TIMEOUT = "CLR-DEPLOY-TIMEOUT"
    HEALTH_GATE = "CLR-DEPLOY-HEALTH-GATE"
    PROVISIONING_FAILED = "CLR-DEPLOY-PROVISIONING-FAILED"
    STALE_ROLLBACK = "CLR-DEPLOY-STALE-ROLLBACK"
    NOTHING_TO_RESTORE = "CLR-DEPLOY-NOTHING-TO-RESTORE"
    WAITED_TOO_LONG = "CLR-DEPLOY-WAITED-TOO-LONG"
    DEAD_LETTERED = "CLR-DEPLOY-DEAD-LETTERED"
    REJECTED = "CLR-DEPLOY-REJECTED"
    ARTIFACT_REJECTED = "CLR-DEPLOY-ARTIFACT-REJECTED"
    ANALYSIS_FAILED = "CLR-DEPLOY-ANALYSIS-FAILED"
    ANALYSIS_INCONCLUSIVE = "CLR-DEPLOY-ANALYSIS-INCONCLUSIVE"
    ANALYSIS_DEADLINE = "CLR-DEPLOY-ANALYSIS-DEADLINE"
    SUPPLY_CHAIN = "CLR-DEPLOY-SUPPLY-CHAIN"
    UNKNOWN_STAGE = "CLR-DEPLOY-UNKNOWN-STAGE"
    PROMOTION_UNVERIFIED = "CLR-DEPLOY-PROMOTION-UNVERIFIED"
    # the version expired in the previous stage and was removed there
    PROMOTION_EXPIRED = "CLR-DEPLOY-PROMOTION-EXPIRED"
    OVERRIDE_REFUSED = "CLR-DEPLOY-OVERRIDE-REFUSED"
    NO_WINDOW = "CLR-DEPLOY-NO-WINDOW"
    SUPERSEDED = "CLR-DEPLOY-SUPERSEDED"
    LEASE_EXPIRED = "CLR-DEPLOY-LEASE-EXPIRED"


class PlanError(TerminalError):
    """The deployment request cannot become a plan; no retry will change that."""

    def __init__(self, code: DeployCode, message: str) -> None:
        self.violation = Violation(code, message)
        super().__init__(str(self.violation))


class RolloutFailed(TerminalError):
    """The rollout started but did not become healthy (deadline, timeout, failed gate).

    Raised by a driver; the service restores the previous revision and records why.
    """

    def __init__(self, code: DeployCode, message: str) -> None:
        self.violation = Violation(code, message)
        super().__init__(str(self.violation))
