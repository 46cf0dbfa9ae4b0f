"""The review flow behind the HTTP triggers: authenticate, render, decide.

Two ways in. A personal link (mailed to a listed approver or a member of an approver group)
carries a signed token; when the region requires signed-in approvers, the Easy Auth principal
must also be the approver the link was issued to: by Entra object id (and tenant) when one is
known, by the e-mail claims only when none is. Without a token (the Teams card's button), the
Easy Auth principal alone decides: its object id must be a listed approver's or the directory
must place it in one of the policy's groups. E-mail claims are mutable: they are shown and
recorded, never trusted to decide.

GET never decides anything (mail scanners and link unfurlers fetch URLs). POST decides, with a
CSRF token bound to the link, or to the approval and object id on the signed-in path.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain import bounded_json
from shared.domain.approval.links import LinkError, LinkProblem
from shared.domain.approval.record import Approval, Refusal, eligibility, normalise
from shared.domain.approval.view import changes, downgrade, vote_rows
from shared.domain.errors import TerminalError
from shared.domain.identity import identity_problem
from shared.ports.directory import DirectoryError
from shared.services.approval import review_page
from shared.services.approval.requests import ApprovalDeps, Snapshot, cast_vote

MAX_FORM_VALUE = 2000
EMAIL_CLAIMS = (
    "preferred_username",
    "email",
    "emails",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
OID_CLAIMS = ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier")
TID_CLAIMS = ("tid", "http://schemas.microsoft.com/identity/claims/tenantid")
_GUID = frozenset("0123456789abcdef-")


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    headers: dict[str, str] = field(default_factory=lambda: dict(review_page.SECURITY_HEADERS))


@dataclass(frozen=True)
class Principal:
    identities: frozenset[str]  # mutable e-mail claims: display, and legacy matching only
    groups: tuple[str, ...]
    object_id: str | None = None
    tenant_id: str | None = None

    @property
    def display(self) -> str | None:
        return min(self.identities) if self.identities else None


def _guid(claims: list[tuple[str, str]], names: tuple[str, ...]) -> str | None:
    value = next((v.strip().lower() for t, v in claims if t in names and v), None)
    if value is None or len(value) != 36 or not set(value) <= _GUID:
        return None
    return value


def principal_of(header: str | None) -> Principal | None:
    """Decode App Service Authentication's X-MS-CLIENT-PRINCIPAL (base64 JSON of claims)."""
    if not header:
        return None
    try:
        doc = bounded_json.loads(base64.b64decode(header, validate=True), max_depth=8)
        claims = [(str(c["typ"]), str(c["val"])) for c in doc.get("claims", [])]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    # A claim that is itself a look-alike (letters of two scripts, fullwidth forms) names no
    # one: folding it would let approver.one spelt with a Cyrillic o act as approver.one.
    # Folding is for separation of duties (excluding more people), never for granting a right.
    ids = frozenset(
        normalise(v) for t, v in claims if t in EMAIL_CLAIMS and v and identity_problem(v) is None
    )
    groups = tuple(v.lower() for t, v in claims if t == "groups")
    return Principal(ids, groups, _guid(claims, OID_CLAIMS), _guid(claims, TID_CLAIMS))


def signed_in(header: str | None, environ: Mapping[str, str] | None = None) -> Principal | None:
    """The Easy Auth principal, only when App Service Authentication is on
    (``WEBSITE_AUTH_ENABLED``: the platform then strips any client-sent copy of the header);
    with it off the header is whatever a client wrote, and nobody is signed in."""
    env = os.environ if environ is None else environ
    if env.get("WEBSITE_AUTH_ENABLED", "").lower() != "true":
        return None
    return principal_of(header)


def _problem(status: int, title: str, message: str) -> Page:
    return Page(status, review_page.problem(title, message))


_LINK_PAGES = {
    LinkProblem.EXPIRED: (410, "Link expired", "This approval link has expired."),
}


@dataclass(frozen=True)
class _Voter:
    snapshot: Snapshot  # the record, its ETag and its votes: read once per request
    identity: str  # canonical: the link's subject, or the directory's address of the principal
    established_by: str
    csrf_subject: str  # what the CSRF token is bound to
    principal: Principal | None = None
    groups: tuple[str, ...] = ()

    @property
    def approval(self) -> Approval:
        return self.snapshot[0]


def _load(approval_id: str, deps: ApprovalDeps) -> Snapshot | Page:
    try:
        return deps.store.snapshot(approval_id)
    except TerminalError:
        return _problem(404, "Unknown request", "There is no such approval request.")


def _wrong_tenant(principal: Principal, deps: ApprovalDeps) -> bool:
    return deps.tenant_id is not None and principal.tenant_id != deps.tenant_id.lower()


def _authenticate(
    approval_id: str, token: str, principal_header: str | None, deps: ApprovalDeps
) -> _Voter | Page:
    principal = principal_of(principal_header)
    if not token:
        return _signed_in(approval_id, principal, deps)
    try:
        claims = deps.signer.verify(token, approval_id, deps.clock())
    except LinkError as exc:
        status, title, message = _LINK_PAGES.get(
            exc.problem, (403, "Invalid link", "This link is not valid for this request.")
        )
        return _problem(status, title, message)
    snapshot = _load(approval_id, deps)
    if isinstance(snapshot, Page):
        return snapshot
    approval = snapshot[0]
    if approval.require_sign_in:
        known = approval.person(mail=normalise(claims.approver, deps.identity))
        expected_oid = known.object_id if known else None
        if principal is None or _wrong_tenant(principal, deps):
            matches = False
        elif expected_oid is not None:  # immutable id known: nothing else is accepted
            matches = principal.object_id == expected_oid
        else:
            matches = normalise(claims.approver, deps.identity) in principal.identities
        if not matches:
            return _problem(
                403, "Sign-in required", "Sign in as the approver this link was sent to."
            )
        return _Voter(snapshot, claims.approver, "easy_auth", token, principal)
    return _Voter(snapshot, claims.approver, "signed_link", token, principal)


_NOT_ASKED = (Refusal.NOT_AN_APPROVER, Refusal.WRONG_PRINCIPAL)
_SIGN_IN = _problem(
    401, "Sign-in required", "Open the link from your message, or sign in with your work account."
)


def _signed_in(approval_id: str, principal: Principal | None, deps: ApprovalDeps) -> _Voter | Page:
    """The Teams path: no token; the Easy Auth principal's object id decides."""
    if principal is None or principal.object_id is None or _wrong_tenant(principal, deps):
        return _SIGN_IN
    snapshot = _load(approval_id, deps)
    if isinstance(snapshot, Page):
        return snapshot
    approval = snapshot[0]
    oid = principal.object_id
    known = approval.person(object_id=oid)
    groups: tuple[str, ...] = ()
    if known is None and approval.approver_groups and deps.directory is None:
        groups = principal.groups  # no directory configured: the token's group claims
    elif known is None and approval.approver_groups and deps.directory is not None:
        try:
            groups = tuple(
                g.lower() for g in deps.directory.member_groups(oid, approval.approver_groups)
            )
        except DirectoryError:
            return _problem(503, "Try again", "The directory did not answer; try again shortly.")
    identity = known.mail if known else (principal.display or f"oid:{oid}")
    return _Voter(
        snapshot, identity, "easy_auth", f"easyauth|{approval_id}|{oid}", principal, groups
    )


def _action(approval_id: str) -> str:
    return f"/api/approvals/{approval_id}/review"


def show(approval_id: str, token: str, principal_header: str | None, deps: ApprovalDeps) -> Page:
    auth = _authenticate(approval_id, token, principal_header, deps)
    if isinstance(auth, Page):
        return auth
    approval = auth.approval
    if approval.is_final:
        return Page(200, review_page.decided(approval))
    if not token and auth.principal is not None:
        refusal = eligibility(approval, auth.identity, auth.groups, auth.principal.object_id)
        if refusal is not None:  # the signed-in path shows a form only to someone who may vote
            return Page(403, review_page.vote_recorded(approval, False, refusal))
    csrf = deps.signer.csrf_token(auth.csrf_subject)
    running = deps.live_revision(deps.region, approval.metadata.name)
    context = review_page.Context(
        changes=changes(approval, running),
        downgrade=downgrade(approval, running),
        votes=vote_rows(auth.snapshot[2]),
    )
    return Page(
        200,
        review_page.review(approval, auth.identity, token, csrf, _action(approval_id), context),
    )


def decide(
    approval_id: str, form: Mapping[str, str], principal_header: str | None, deps: ApprovalDeps
) -> Page:
    token = form.get("t", "")
    auth = _authenticate(approval_id, token, principal_header, deps)
    if isinstance(auth, Page):
        return auth
    if not deps.signer.check_csrf(auth.csrf_subject, form.get("csrf", "")):
        return _problem(403, "Form expired", "Open the link from your message again.")
    decision = form.get("decision")
    reason = (form.get("reason") or form.get("comment") or "").strip()[:MAX_FORM_VALUE] or None
    if decision not in ("approve", "reject"):
        return _problem(400, "Unknown decision", "Choose Approve or Reject.")
    if decision == "reject" and not (form.get("reason") or "").strip():
        return _problem(400, "Reason required", "A rejection needs a reason.")
    principal = auth.principal if auth.established_by == "easy_auth" else None
    groups = auth.groups
    result = cast_vote(
        approval_id,
        auth.identity,
        decision,  # type: ignore[arg-type]
        reason,
        auth.established_by,  # type: ignore[arg-type]
        deps,
        groups,
        object_id=principal.object_id if principal else None,
        tenant_id=principal.tenant_id if principal else None,
        display=principal.display if principal else None,
        snapshot=auth.snapshot,
    )
    if result.refusal is not None and result.approval.is_final and not result.counted:
        return Page(200, review_page.decided(result.approval))
    if result.refusal in _NOT_ASKED and not token:
        return Page(403, review_page.vote_recorded(result.approval, False, result.refusal))
    return Page(200, review_page.vote_recorded(result.approval, result.counted, result.refusal))
