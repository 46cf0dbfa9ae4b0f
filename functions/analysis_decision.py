"""GET/POST /api/models/{model}/analysis: an approver decides on an inconclusive analysis.

Behind App Service Authentication (Easy Auth): the caller is X-MS-CLIENT-PRINCIPAL and must be
an approver of the model's risk tier in this region; the form carries a CSRF token.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.composition.deploy import rollback_deps
from shared.domain.approval.links import LinkSigner
from shared.services.approval.review import signed_in
from shared.services.deploy.decision_page import DecisionPage, handle

bp = func.Blueprint()
_MODEL = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_FORM = 8192


def _reply(page: DecisionPage) -> func.HttpResponse:
    return func.HttpResponse(
        page.body, status_code=page.status, mimetype="text/html", headers=page.headers
    )


@bp.function_name("analysis_decision")
@bp.route(
    route="models/{model}/analysis", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS
)
@traced_trigger("analysis_decision")
def analysis_decision(req: func.HttpRequest) -> func.HttpResponse:
    principal = signed_in(req.headers.get("X-MS-CLIENT-PRINCIPAL"))
    if principal is None or not (principal.identities or principal.object_id):
        return _reply(DecisionPage(401, "Sign in as an approver."))
    model = req.route_params.get("model", "")
    if not _MODEL.match(model):
        return _reply(DecisionPage(400, "Not a model name."))
    form: dict[str, str] = {}
    if req.method == "POST":
        ctype = req.headers.get("Content-Type") or ""
        body = req.get_body() or b""
        if not ctype.startswith("application/x-www-form-urlencoded") or len(body) > MAX_FORM:
            return _reply(DecisionPage(415, "Send the form as application/x-www-form-urlencoded."))
        try:
            parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
        except ValueError:  # more fields than the form has
            return _reply(DecisionPage(400, "Not the analysis form."))
        form = {k: v[0] for k, v in parsed.items() if v}
    container = get_container()
    signer = LinkSigner(container.settings.link_signing_keys())
    page = handle(
        req.method,
        model,
        sorted(principal.identities),
        tuple(principal.groups),
        form,
        rollback_deps(container),
        signer,
        object_id=principal.object_id,
    )
    return _reply(page)
