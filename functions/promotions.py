"""POST /api/models/{model}/promote and /api/approvals/{approval_id}/override.

Behind App Service Authentication (Easy Auth), JSON bodies only (a cross-site form cannot
send them). ``promote`` (``{"digest": "sha256:...", "stage": "prod"}``): the model's owner
asks to promote what the previous stage runs and verified. ``override``
(``{"reason": "..."}``): an approver of the stage who did not approve the deployment starts
it outside its change window; the reason is recorded.
"""

from __future__ import annotations

import json
import re

import azure.functions as func

from shared.composition import get_container
from shared.domain import bounded_json
from shared.services.approval.review import signed_in
from shared.services.approval.stages import StageRefused, override, promote

bp = func.Blueprint()
_MODEL = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_STAGE = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_APPROVAL = re.compile(r"^apr-[0-9a-f]{32}$")


def _json(status: int, doc: dict[str, object]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(doc),
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _body(req: func.HttpRequest) -> dict[str, object] | func.HttpResponse:
    if not (req.headers.get("Content-Type") or "").startswith("application/json"):
        return _json(415, {"error": "Send the request as application/json."})
    try:
        body = bounded_json.loads(req.get_body() or b"{}", max_bytes=16384, max_depth=8)
    except bounded_json.JsonLimitError as exc:
        return _json(400, {"error": f"The body is refused: {exc}."})
    except ValueError:
        return _json(400, {"error": "The body is not JSON."})
    if not isinstance(body, dict):
        return _json(400, {"error": "The body must be a JSON object."})
    return body


@bp.function_name("promote")
@bp.route(route="models/{model}/promote", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def promote_model(req: func.HttpRequest) -> func.HttpResponse:
    principal = signed_in(req.headers.get("X-MS-CLIENT-PRINCIPAL"))
    if principal is None or not principal.identities:
        return _json(401, {"error": "Sign in as the model's owner to promote it."})
    body = _body(req)
    if isinstance(body, func.HttpResponse):
        return body
    model, digest, stage = req.route_params.get("model", ""), body.get("digest"), body.get("stage")
    if not _MODEL.match(model):
        return _json(400, {"error": "Not a model name."})
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        return _json(400, {"error": "digest must be sha256:<64 hex>."})
    if not isinstance(stage, str) or not _STAGE.match(stage):
        return _json(400, {"error": "stage must be a stage name."})
    deps = get_container().approvals()
    refusals = []
    for identity in sorted(principal.identities):
        try:
            approval = promote(model, digest, stage, identity, deps)
        except StageRefused as exc:
            refusals.append(str(exc))
            continue
        return _json(
            202,
            {
                "approval_id": approval.approval_id,
                "stage": approval.stage,
                "state": approval.state.value,
                "notes": list(approval.notes),
            },
        )
    return _json(409, {"error": refusals[0] if refusals else "refused"})


@bp.function_name("override")
@bp.route(
    route="approvals/{approval_id}/override", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS
)
def override_window(req: func.HttpRequest) -> func.HttpResponse:
    principal = signed_in(req.headers.get("X-MS-CLIENT-PRINCIPAL"))
    if principal is None or not principal.identities:
        return _json(401, {"error": "Sign in as an approver of the stage to override."})
    body = _body(req)
    if isinstance(body, func.HttpResponse):
        return body
    approval_id, reason = req.route_params.get("approval_id", ""), body.get("reason")
    if not _APPROVAL.match(approval_id):
        return _json(400, {"error": "Not an approval id."})
    if not isinstance(reason, str):
        return _json(400, {"error": "reason must be a string."})
    try:
        request = override(
            approval_id,
            sorted(principal.identities),
            principal.groups,
            reason,
            get_container().approvals(),
        )
    except StageRefused as exc:
        return _json(409, {"error": str(exc)})
    assert request.override is not None
    return _json(
        202, {"approval_id": approval_id, "stage": request.stage, "by": request.override.by}
    )
