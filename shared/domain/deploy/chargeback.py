"""Chargeback: who pays for what runs. Every manifest and AML deployment carries the labels.

Owner, team, cost centre, stage and model version go on every Kubernetes object Clearance
renders (labels, so cost tools such as OpenCost can group pods by them) and on every Azure ML
endpoint and deployment (tags). A region's catalog may require team and cost centre: an
artifact without them is refused at intake, before anyone is asked to approve it.

Label values must be valid Kubernetes label values. The cost centre is checked strictly by the
metadata contract (ASCII letters, digits, '.', '_', '-'); the owner (an e-mail address) and the
version are rewritten by ``k8s_names.label_value``, which keeps distinct inputs distinct.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from shared.domain.deploy.k8s_names import label_value

if TYPE_CHECKING:  # the catalog imports this module; the metadata model imports the catalog
    from shared.domain.metadata.model import ModelMetadata

# A region without stages has one, implicit, production stage of this name; a staged region's
# objects carry their own stage's name (``Revision.stage``).
DEFAULT_STAGE = "prod"
LABEL_PREFIX = "clearance.ai/"
TAG_PREFIX = "clearance."
Required = Literal["team", "cost_centre"]
_TITLES = {"team": "ai.clearance.team", "cost_centre": "ai.clearance.cost-centre"}


class ChargebackPolicy(BaseModel):
    """What a region requires for chargeback (``chargeback`` in the region catalog)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require: tuple[Required, ...] = ()


def missing(metadata: ModelMetadata, policy: ChargebackPolicy) -> list[str]:
    """The label keys ``policy`` requires and ``metadata`` lacks."""
    return [_TITLES[field] for field in policy.require if getattr(metadata, field) is None]


def _values(metadata: ModelMetadata, stage: str) -> dict[str, str]:
    values = {
        "owner": str(metadata.owner),
        "stage": stage,
        "model-version": metadata.version,
    }
    if metadata.team is not None:
        values["team"] = metadata.team
    if metadata.cost_centre is not None:
        values["cost-centre"] = metadata.cost_centre
    return values


def labels(metadata: ModelMetadata, stage: str = DEFAULT_STAGE) -> dict[str, str]:
    """Kubernetes labels: every value a valid label value."""
    return {f"{LABEL_PREFIX}{k}": label_value(v) for k, v in _values(metadata, stage).items()}


def tags(metadata: ModelMetadata, stage: str = DEFAULT_STAGE) -> dict[str, str]:
    """Azure tags: the same values, verbatim (all validated by the metadata contract)."""
    return {f"{TAG_PREFIX}{k}": v for k, v in _values(metadata, stage).items()}
