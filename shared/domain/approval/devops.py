"""The Azure DevOps "Invoke REST API" check: its request, its callback, and who may call. Pure.

An environment's check calls Clearance in the asynchronous ("Callback") completion mode with
the plan's coordinates as headers (PlanUrl, ProjectId, HubName, PlanId, JobId, TimelineId,
TaskInstanceId, AuthToken) and a JSON body naming the image (``{"image": "<registry>/<repo>@
sha256:..."}``). Clearance answers at once and, when the approval for that image in this
region is decided, posts the ``TaskCompleted`` event to

    {PlanUrl}{ProjectId}/_apis/distributedtask/hubs/{HubName}/plans/{PlanId}/events
    ?api-version=2.0-preview.1

with ``Authorization: Basic base64(":" + AuthToken)``. The PlanUrl must be one of the cell's
allowed Azure DevOps organisations: the callback never goes anywhere else (no SSRF).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from shared.domain.approval.record import ApprovalState

Result = Literal["succeeded", "failed"]
API_VERSION = "2.0-preview.1"
MAX_BODY_BYTES = 4096
MAX_TOKEN_LENGTH = 8192
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HUB = re.compile(r"^[A-Za-z]{1,32}$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")
_IMAGE = re.compile(
    r"^(?P<registry>[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?)/"
    r"(?P<repository>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"@(?P<digest>sha256:[0-9a-f]{64})$"
)
_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")
_GUID_HEADERS = ("ProjectId", "PlanId", "JobId", "TimelineId", "TaskInstanceId")


class CheckRefused(ValueError):
    """The request is not a valid check of an allowed organisation (HTTP ``status``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CheckRequest(BaseModel):
    """One check evaluation as Azure DevOps sent it (validated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plan_url: str
    project_id: str
    hub_name: str
    plan_id: str
    job_id: str
    timeline_id: str
    task_instance_id: str
    auth_token: str
    registry: str
    repository: str
    digest: str

    @property
    def check_id(self) -> str:
        """Stable across Azure DevOps' re-evaluations of the same check run."""
        key = "|".join((self.plan_url, self.project_id, self.plan_id, self.task_instance_id))
        return "chk-" + hashlib.sha256(key.encode()).hexdigest()[:32]

    def callback_url(self) -> str:
        return (
            f"{self.plan_url}{self.project_id}/_apis/distributedtask/hubs/{self.hub_name}"
            f"/plans/{self.plan_id}/events?api-version={API_VERSION}"
        )

    def callback_body(self, result: Result) -> dict[str, str]:
        return {
            "name": "TaskCompleted",
            "taskId": self.task_instance_id,
            "jobId": self.job_id,
            "result": result,
        }

    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f":{self.auth_token}".encode()).decode("ascii")


def normalise_base(url: str) -> str:
    """An allowed organisation URL as compared: scheme://host[:port]/path/ in lower case."""
    parts = urlsplit(url.strip())
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}{path.lower()}"


def plan_url_allowed(plan_url: str, allowed: tuple[str, ...]) -> bool:
    """Exactly one of the allowed organisation URLs (https; http only to the loopback)."""
    try:
        parts = urlsplit(plan_url)
    except ValueError:
        return False
    if parts.query or parts.fragment or "@" in parts.netloc or not _PATH.match(parts.path):
        return False
    if parts.scheme != "https" and not (
        parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "localhost")
    ):
        return False
    return normalise_base(plan_url) in {normalise_base(a) for a in allowed}


def parse_check(headers: dict[str, str], body: object, allowed: tuple[str, ...]) -> CheckRequest:
    """The check request, or ``CheckRefused`` saying exactly what is wrong."""

    def header(name: str) -> str:
        value = headers.get(name.lower(), "").strip()
        if not value:
            raise CheckRefused(400, f"The header {name} is missing (set it in the check).")
        return value

    plan_url = header("PlanUrl")
    if len(plan_url) > 512 or not plan_url_allowed(plan_url, allowed):
        raise CheckRefused(
            403, "PlanUrl is not one of the Azure DevOps organisations this cell serves."
        )
    if not plan_url.endswith("/"):
        plan_url += "/"
    ids = {name: header(name) for name in _GUID_HEADERS}
    bad = [name for name, value in ids.items() if not _GUID.match(value)]
    if bad:
        raise CheckRefused(400, f"{', '.join(bad)} must be GUIDs.")
    hub = header("HubName")
    if not _HUB.match(hub):
        raise CheckRefused(400, "HubName must be letters only, such as build.")
    token = header("AuthToken")
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.match(token):
        raise CheckRefused(400, "AuthToken is not a token.")
    image = body.get("image") if isinstance(body, dict) else None
    match = _IMAGE.match(image) if isinstance(image, str) and len(image) <= 600 else None
    if match is None:
        raise CheckRefused(
            400, 'The body must be {"image": "<registry>/<repository>@sha256:<digest>"}.'
        )
    return CheckRequest(
        plan_url=plan_url,
        project_id=ids["ProjectId"].lower(),
        hub_name=hub,
        plan_id=ids["PlanId"].lower(),
        job_id=ids["JobId"].lower(),
        timeline_id=ids["TimelineId"].lower(),
        task_instance_id=ids["TaskInstanceId"].lower(),
        auth_token=token,
        registry=match["registry"],
        repository=match["repository"],
        digest=match["digest"],
    )


def result_for(state: ApprovalState) -> Result | None:
    """The check's result once the approval is final; None while it is open."""
    if state is ApprovalState.APPROVED:
        return "succeeded"
    if state is ApprovalState.PENDING:
        return None
    return "failed"  # rejected, expired, superseded, cancelled
