"""HTTP: the approver's review page. GET shows (never decides); POST decides."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.approval import review

bp = func.Blueprint()
MAX_FORM_BYTES = 16 * 1024


def _principal(req: func.HttpRequest) -> str | None:
    """The Easy Auth principal, only when App Service Authentication is on (the platform then
    strips any client-sent copy); with it off, the header is whatever a client wrote."""
    if os.environ.get("WEBSITE_AUTH_ENABLED", "").lower() != "true":
        return None
    return req.headers.get("X-MS-CLIENT-PRINCIPAL")


def _stored_trace(req: func.HttpRequest) -> str | None:
    """The trace of the artifact whose approval this is (stored when the approval opened):
    the review is one more step of that artifact's journey."""
    return get_container().approval_trace(req.route_params.get("approval_id", ""))


def _respond(page: review.Page) -> func.HttpResponse:
    return func.HttpResponse(
        page.html,
        status_code=page.status,
        headers=page.headers,
        mimetype="text/html",
        charset="utf-8",
    )


@bp.function_name("approval_review_show")
@bp.route(
    route="approvals/{approval_id}/review", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS
)
@traced_trigger("approval_review_show", parent=_stored_trace)
def approval_review_show(req: func.HttpRequest) -> func.HttpResponse:
    page = review.show(
        req.route_params["approval_id"],
        req.params.get("t", ""),
        _principal(req),
        get_container().approvals(),
    )
    return _respond(page)


@bp.function_name("approval_review_decide")
@bp.route(
    route="approvals/{approval_id}/review", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS
)
@traced_trigger("approval_review_decide", parent=_stored_trace)
def approval_review_decide(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    if len(body) > MAX_FORM_BYTES:
        return _respond(review.Page(413, "form too large"))
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    page = review.decide(
        req.route_params["approval_id"],
        form,
        _principal(req),
        get_container().approvals(),
    )
    return _respond(page)
