"""The review flow behind the HTTP triggers: authenticate the link, render, decide.

GET never decides anything (mail scanners and link unfurlers fetch URLs). POST decides, with
the CSRF token bound to the link. When the region requires signed-in approvers, the Easy Auth
principal must be the approver the link was issued to.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain import bounded_json
from shared.domain.approval.links import LinkClaims, LinkError, LinkProblem
from shared.domain.approval.record import Approval
from shared.domain.errors import TerminalError
from shared.services.approval import review_page
from shared.services.approval.requests import ApprovalDeps, cast_vote

MAX_FORM_VALUE = 2000
EMAIL_CLAIMS = (
    "preferred_username",
    "email",
    "emails",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    headers: dict[str, str] = field(default_factory=lambda: dict(review_page.SECURITY_HEADERS))


@dataclass(frozen=True)
class Principal:
    identities: frozenset[str]
    groups: tuple[str, ...]


def principal_of(header: str | None) -> Principal | None:
    """Decode App Service Authentication's X-MS-CLIENT-PRINCIPAL (base64 JSON of claims)."""
    if not header:
        return None
    try:
        doc = bounded_json.loads(base64.b64decode(header, validate=True), max_depth=8)
        claims = [(str(c["typ"]), str(c["val"])) for c in doc.get("claims", [])]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    ids = frozenset(v.strip().lower() for t, v in claims if t in EMAIL_CLAIMS and v)
    groups = tuple(v for t, v in claims if t == "groups")
    return Principal(ids, groups)


def _problem(status: int, title: str, message: str) -> Page:
    return Page(status, review_page.problem(title, message))


_LINK_PAGES = {
    LinkProblem.EXPIRED: (410, "Link expired", "This approval link has expired."),
}


def _authenticate(
    approval_id: str, token: str, principal_header: str | None, deps: ApprovalDeps
) -> tuple[Approval, LinkClaims, str] | Page:
    try:
        claims = deps.signer.verify(token, approval_id, deps.clock())
    except LinkError as exc:
        status, title, message = _LINK_PAGES.get(
            exc.problem, (403, "Invalid link", "This link is not valid for this request.")
        )
        return _problem(status, title, message)
    try:
        approval, _ = deps.store.get(approval_id)
    except TerminalError:
        return _problem(404, "Unknown request", "There is no such approval request.")
    if approval.require_sign_in:
        principal = principal_of(principal_header)
        if principal is None or claims.approver.lower() not in principal.identities:
            return _problem(
                403, "Sign-in required", "Sign in as the approver this link was sent to."
            )
        return approval, claims, "easy_auth"
    return approval, claims, "signed_link"


def _action(approval_id: str) -> str:
    return f"/api/approvals/{approval_id}/review"


def show(approval_id: str, token: str, principal_header: str | None, deps: ApprovalDeps) -> Page:
    auth = _authenticate(approval_id, token, principal_header, deps)
    if isinstance(auth, Page):
        return auth
    approval, claims, _ = auth
    if approval.is_final:
        return Page(200, review_page.decided(approval))
    csrf = deps.signer.csrf_token(token)
    return Page(
        200, review_page.review(approval, claims.approver, token, csrf, _action(approval_id))
    )


def decide(
    approval_id: str, form: Mapping[str, str], principal_header: str | None, deps: ApprovalDeps
) -> Page:
    token = form.get("t", "")
    auth = _authenticate(approval_id, token, principal_header, deps)
    if isinstance(auth, Page):
        return auth
    _, claims, established_by = auth
    if not deps.signer.check_csrf(token, form.get("csrf", "")):
        return _problem(403, "Form expired", "Open the link from your message again.")
    decision = form.get("decision")
    reason = (form.get("reason") or form.get("comment") or "").strip()[:MAX_FORM_VALUE] or None
    if decision not in ("approve", "reject"):
        return _problem(400, "Unknown decision", "Choose Approve or Reject.")
    if decision == "reject" and not (form.get("reason") or "").strip():
        return _problem(400, "Reason required", "A rejection needs a reason.")
    groups = principal.groups if (principal := principal_of(principal_header)) else ()
    result = cast_vote(approval_id, claims.approver, decision, reason, established_by, deps, groups)  # type: ignore[arg-type]
    if result.refusal is not None and result.approval.is_final and not result.counted:
        return Page(200, review_page.decided(result.approval))
    return Page(200, review_page.vote_recorded(result.approval, result.counted, result.refusal))
