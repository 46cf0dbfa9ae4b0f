"""POST /api/models/{model}/rollback: an approver restores the previous revision.

Behind App Service Authentication (Easy Auth): the caller is the signed-in principal of
X-MS-CLIENT-PRINCIPAL, and must be an approver of the model's risk tier in this region. The
body is JSON (``{"reason": "..."}``), which a cross-site form cannot send.
"""

from __future__ import annotations

import json
import re

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.composition.deploy import rollback_deps
from shared.domain import bounded_json
from shared.services.approval.review import signed_in
from shared.services.deploy.rollback import RollbackRefused, request_rollback

bp = func.Blueprint()
_MODEL = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _json(status: int, doc: dict[str, object]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(doc),
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


@bp.function_name("rollback")
@bp.route(route="models/{model}/rollback", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@traced_trigger("rollback")
def rollback(req: func.HttpRequest) -> func.HttpResponse:
    principal = signed_in(req.headers.get("X-MS-CLIENT-PRINCIPAL"))
    if principal is None or not (principal.identities or principal.object_id):
        return _json(401, {"error": "Sign in as an approver to roll back a model."})
    if not (req.headers.get("Content-Type") or "").startswith("application/json"):
        return _json(415, {"error": "Send the request as application/json."})
    model = req.route_params.get("model", "")
    if not _MODEL.match(model):
        return _json(400, {"error": "Not a model name."})
    try:
        body = bounded_json.loads(req.get_body() or b"{}", max_bytes=16384, max_depth=8)
    except bounded_json.JsonLimitError as exc:
        return _json(400, {"error": f"The body is refused: {exc}."})
    except ValueError:
        return _json(400, {"error": "The body is not JSON."})
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and not isinstance(reason, str):
        return _json(400, {"error": "reason must be a string."})
    try:
        ticket = request_rollback(
            model,
            sorted(principal.identities),
            "easy_auth",
            reason,
            rollback_deps(get_container()),
            groups=principal.groups,
            object_id=principal.object_id,
        )
    except RollbackRefused as exc:
        return _json(exc.status, {"error": str(exc)})
    return _json(
        202,
        {
            "deployment_id": ticket.deployment_id,
            "model": ticket.model,
            "region": ticket.region,
            "rolls_back": ticket.rolls_back,
            "restores": ticket.restores,
            "aborts_rollout": ticket.aborts_rollout,
        },
    )
