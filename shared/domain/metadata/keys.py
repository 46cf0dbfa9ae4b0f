"""The key convention shared by image labels and AML model tags.

Clearance's own keys live under ``ai.clearance.``; version, description, source and revision
reuse the OCI annotation keys that build tools already set. ``org.opencontainers.image.authors``
is deliberately *not* the owner: the owner is the one explicit ``ai.clearance.owner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.domain.metadata.model import ArtifactKind
from shared.domain.metadata.rollout import StrategyName

PREFIX = "ai.clearance."

# How the parser turns the label string into the value the contract validates.
ValueShape = Literal["text", "integer", "list", "integer-list", "pod-budget"]

_BOTH = frozenset(ArtifactKind)
_IMAGE = frozenset({ArtifactKind.IMAGE})
_AML = frozenset({ArtifactKind.AML_MODEL})

_NAME_FORMAT = (
    "must be 1 to 63 lowercase letters, digits or hyphens, starting with a letter "
    "and not ending with a hyphen"
)


@dataclass(frozen=True)
class LabelKey:
    """One key of the convention and where its value goes in ``ModelMetadata``."""

    key: str
    path: tuple[str, ...]
    title: str
    expected: str
    example: str
    shape: ValueShape = "text"
    kinds: frozenset[ArtifactKind] = _BOTH
    strategy: StrategyName | None = None
    required: bool = False
    default: str | None = None

    @property
    def error_loc(self) -> tuple[str, ...]:
        """Where pydantic reports errors for this key (discriminated unions add their tag)."""
        if self.path == ("rollout", "strategy"):
            return ("rollout",)
        if self.strategy is not None:
            return (self.path[0], self.strategy, *self.path[1:])
        if self.path[0] == "serving":
            (kind,) = self.kinds
            return ("serving", kind.value, *self.path[1:])
        return self.path


NAME = LabelKey(
    "ai.clearance.model.name",
    ("name",),
    "model name",
    _NAME_FORMAT,
    "fraud-detector",
    required=True,
)
VERSION = LabelKey(
    "org.opencontainers.image.version",
    ("version",),
    "model version",
    "must be at most 64 letters, digits, '.', '_', '+' or '-', starting with a letter or digit",
    "1.4.2",
    required=True,
)
STRATEGY = LabelKey(
    "ai.clearance.rollout.strategy",
    ("rollout", "strategy"),
    "rollout strategy",
    "must be one of rolling, blue-green, canary or shadow",
    "canary",
    required=True,
)

LABEL_KEYS: tuple[LabelKey, ...] = (
    NAME,
    VERSION,
    LabelKey(
        "ai.clearance.owner",
        ("owner",),
        "owner",
        "must be a single plain e-mail address, such as ada@example.com",
        "ada@example.com",
        required=True,
    ),
    LabelKey(
        "ai.clearance.regions",
        ("regions",),
        "target region list",
        "must be a comma-separated list of 1 to 32 Azure region names, such as westeurope",
        "westeurope,swedencentral",
        shape="list",
        required=True,
    ),
    LabelKey(
        "ai.clearance.residency",
        ("residency",),
        "residency zone",
        "must be a residency zone of the region catalog, in capitals, such as EU",
        "EU",
        required=True,
    ),
    LabelKey(
        "ai.clearance.risk-tier",
        ("risk_tier",),
        "risk tier",
        "must be one of low, medium, high or critical",
        "high",
        required=True,
    ),
    LabelKey("ai.clearance.team", ("team",), "team", _NAME_FORMAT, "payments-ml"),
    LabelKey(
        "ai.clearance.cost-centre",
        ("cost_centre",),
        "cost centre",
        "must be 1 to 63 ASCII letters, digits, '.', '_' or '-', starting and ending with a "
        "letter or digit (it becomes a Kubernetes label value)",
        "CC-4711",
    ),
    LabelKey(
        "ai.clearance.expiry-hours",
        ("expiry_hours",),
        "expiry",
        "must be a whole number of hours from 1 to 8760, within the region catalog's limit: "
        "how long a shadow or canary phase, or a non-production deployment, may run",
        "48",
        shape="integer",
        default="the region catalog's expiry for the phase",
    ),
    LabelKey(
        "ai.clearance.version.intent",
        ("version_intent",),
        "version intent",
        "must be rollback or hotfix: this lower version may replace a higher pending one",
        "hotfix",
    ),
    LabelKey(
        "org.opencontainers.image.description",
        ("description",),
        "description",
        "must be plain single-line text of at most 500 characters",
        "Scores card payments for fraud",
    ),
    LabelKey(
        "org.opencontainers.image.source",
        ("source",),
        "source URL",
        "must be an https:// URL without spaces, query or fragment",
        "https://github.com/contoso/fraud-detector",
    ),
    LabelKey(
        "org.opencontainers.image.revision",
        ("revision",),
        "source revision",
        "must be at most 128 letters, digits, '.', '_', '/', '+' or '-', such as a commit hash",
        "3f2c9e1",
    ),
    STRATEGY,
    LabelKey(
        "ai.clearance.rollout.rolling.max-surge",
        ("rollout", "max_surge"),
        "max-surge budget",
        "must be a number of pods from 0 to 1000 or a percentage such as 25%",
        "1",
        shape="pod-budget",
        strategy="rolling",
        default="25%",
    ),
    LabelKey(
        "ai.clearance.rollout.rolling.max-unavailable",
        ("rollout", "max_unavailable"),
        "max-unavailable budget",
        "must be a number of pods from 0 to 1000 or a percentage such as 25%",
        "0",
        shape="pod-budget",
        strategy="rolling",
        default="25%",
    ),
    LabelKey(
        "ai.clearance.rollout.blue-green.keep-previous-minutes",
        ("rollout", "keep_previous_minutes"),
        "time to keep the previous version",
        "must be a whole number of minutes from 0 to 1440",
        "60",
        shape="integer",
        strategy="blue-green",
        default="30",
    ),
    LabelKey(
        "ai.clearance.rollout.canary.steps",
        ("rollout", "steps"),
        "canary step list",
        "must be 2 to 10 comma-separated traffic percentages from 1 to 100, increasing to 100",
        "10,50,100",
        shape="integer-list",
        strategy="canary",
        required=True,
    ),
    LabelKey(
        "ai.clearance.rollout.canary.bake-minutes",
        ("rollout", "bake_minutes"),
        "canary bake time",
        "must be a whole number of minutes from 1 to 1440",
        "15",
        shape="integer",
        strategy="canary",
        default="10",
    ),
    LabelKey(
        "ai.clearance.rollout.shadow.mirror-percent",
        ("rollout", "mirror_percent"),
        "mirrored traffic share",
        "must be a whole percentage from 1 to 100",
        "20",
        shape="integer",
        strategy="shadow",
        required=True,
    ),
    LabelKey(
        "ai.clearance.rollout.shadow.duration-minutes",
        ("rollout", "duration_minutes"),
        "shadow duration",
        "must be a whole number of minutes from 1 to 10080 (one week)",
        "120",
        shape="integer",
        strategy="shadow",
        default="60",
    ),
    LabelKey(
        "ai.clearance.serving.port",
        ("serving", "port"),
        "serving port",
        "must be a whole number from 1024 to 65535 (pods run as non-root)",
        "8080",
        shape="integer",
        kinds=_IMAGE,
        required=True,
    ),
    LabelKey(
        "ai.clearance.serving.health-path",
        ("serving", "health_path"),
        "health path",
        "must be a path of at most 256 characters that starts with '/' and uses only "
        "letters, digits and . _ ~ - /",
        "/healthz",
        kinds=_IMAGE,
        required=True,
    ),
    LabelKey(
        "ai.clearance.resources.cpu",
        ("serving", "resources", "cpu"),
        "CPU request",
        "must be a Kubernetes CPU quantity above zero, such as 500m or 2",
        "500m",
        kinds=_IMAGE,
        required=True,
    ),
    LabelKey(
        "ai.clearance.resources.memory",
        ("serving", "resources", "memory"),
        "memory request",
        "must be a Kubernetes memory quantity such as 512Mi, 1.5Gi or 2G (not m, which means "
        "millibytes)",
        "1Gi",
        kinds=_IMAGE,
        required=True,
    ),
    LabelKey(
        "ai.clearance.resources.cpu-limit",
        ("serving", "resources", "cpu_limit"),
        "CPU limit",
        "must be a Kubernetes CPU quantity, at least the CPU request",
        "2",
        kinds=_IMAGE,
    ),
    LabelKey(
        "ai.clearance.resources.memory-limit",
        ("serving", "resources", "memory_limit"),
        "memory limit",
        "must be a Kubernetes memory quantity, at least the memory request",
        "2Gi",
        kinds=_IMAGE,
    ),
    LabelKey(
        "ai.clearance.serving.instance-type",
        ("serving", "instance_type"),
        "instance type",
        "must name an instance type of the region's AML Kubernetes compute "
        "(lowercase letters, digits and hyphens)",
        "gpu-small",
        kinds=_AML,
        default="the compute's default instance type",
    ),
    LabelKey(
        "ai.clearance.serving.instance-count",
        ("serving", "instance_count"),
        "instance count",
        "must be a whole number from 1 to 20",
        "2",
        shape="integer",
        kinds=_AML,
        default="1",
    ),
    LabelKey(
        "ai.clearance.analysis.checks",
        ("analysis", "checks"),
        "analysis check list",
        "must be a comma-separated list of built-in analysis templates: success-rate, "
        "p95-latency, business-rate or prediction-discrepancy (shadow only), added to the "
        "region's checks, never replacing them",
        "success-rate,p95-latency",
        shape="list",
        default="the region catalog's checks for the risk tier",
    ),
    LabelKey(
        "ai.clearance.analysis.business-metric",
        ("analysis", "business_metric"),
        "business metric",
        "must be a Prometheus metric name (letters, digits and '_', at most 100 characters) "
        "of a counter the model exports, such as a decline count",
        "fraud_declines_total",
    ),
)

BY_KEY: dict[str, LabelKey] = {spec.key: spec for spec in LABEL_KEYS}
