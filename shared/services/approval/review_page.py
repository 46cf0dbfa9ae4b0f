"""The review page: server-side HTML, no JavaScript, readable on a phone, every value escaped."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from shared.domain.approval.record import Approval, ApprovalState, Refusal
from shared.domain.approval.view import Change
from shared.services.approval.evidence import evidence_html
from shared.services.approval.messages import facts
from shared.services.owner_mail import describe

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:42rem;margin:auto;padding:1rem;line-height:1.4}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}
th{width:40%}form{margin:1rem 0;padding:1rem;border:1px solid #ccc;border-radius:.5rem}
textarea{width:100%;min-height:4rem}button{font-size:1.1rem;padding:.6rem 1.2rem}
.ok{color:#0a6b0a}.bad{color:#a40000}code{word-break:break-all}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _facts_table(approval: Approval) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in facts(approval, approval.replaces)
    )
    return f"<table>{rows}</table>"


@dataclass(frozen=True)
class Context:
    """What the page shows beyond the record: the diff against live, and the votes so far."""

    changes: list[Change] = field(default_factory=list)
    downgrade: bool = False
    votes: list[tuple[str, str]] = field(default_factory=list)


def _context_html(context: Context) -> str:
    parts = []
    if context.downgrade:
        parts.append(
            "<p class='bad' id='downgrade'><strong>Downgrade:</strong> this version is lower "
            "than the one live now.</p>"
        )
    if context.changes:
        rows = "".join(
            f"<tr><th>{html.escape(c.what)}</th><td><del>{html.escape(c.live)}</del></td>"
            f"<td><ins>{html.escape(c.requested)}</ins></td></tr>"
            for c in context.changes
        )
        parts.append(
            "<h2>Changes against the live version</h2><table id='changes'>"
            f"<tr><th>What</th><th>Live</th><th>Requested</th></tr>{rows}</table>"
        )
    votes = "".join(
        f"<li>{html.escape(who)}: {html.escape(what)}</li>" for who, what in context.votes
    )
    parts.append(f"<h2>Votes so far</h2><ul id='votes'>{votes or '<li>none yet</li>'}</ul>")
    return "".join(parts)


def review(
    approval: Approval,
    approver: str,
    token: str,
    csrf: str,
    action: str,
    context: Context | None = None,
) -> str:
    m = approval.metadata
    hidden = (
        f"<input type='hidden' name='t' value='{html.escape(token, quote=True)}'>"
        f"<input type='hidden' name='csrf' value='{html.escape(csrf, quote=True)}'>"
    )
    description = f"<p>{html.escape(m.description)}</p>" if m.description else ""
    body = (
        f"<p>You are asked, as <strong>{html.escape(approver)}</strong>, to approve "
        f"<code>{html.escape(describe(approval.artifact))}</code> for region "
        f"<strong>{html.escape(approval.region)}</strong>.</p>{description}"
        f"{_facts_table(approval)}{evidence_html(approval.supply_chain)}"
        f"{_context_html(context or Context())}"
        "<p class='ok'>Validation: passed (metadata contract and residency policy).</p>"
        f"<p>Replaces: {html.escape(approval.replaces or 'nothing (first deployment)')}</p>"
        f"<form method='post' action='{html.escape(action, quote=True)}'>{hidden}"
        "<input type='hidden' name='decision' value='approve'>"
        "<label for='comment'>Comment (optional)</label>"
        "<textarea id='comment' name='comment' maxlength='2000'></textarea>"
        "<button type='submit' id='approve'>Approve</button></form>"
        f"<form method='post' action='{html.escape(action, quote=True)}'>{hidden}"
        "<input type='hidden' name='decision' value='reject'>"
        "<label for='reason'>Reason (required to reject)</label>"
        "<textarea id='reason' name='reason' required maxlength='2000'></textarea>"
        "<button type='submit' id='reject'>Reject</button></form>"
    )
    return _page(f"Review {m.name} {m.version}", body)


def decided(approval: Approval) -> str:
    who = ", ".join(approval.decided_by) or "nobody"
    when = f"{approval.decided_at:%Y-%m-%d %H:%M UTC}" if approval.decided_at else "-"
    state = str(approval.state)
    extra = ""
    if approval.state is ApprovalState.REJECTED and approval.decision_reason:
        extra = f"<p>Reason: {html.escape(approval.decision_reason)}</p>"
    if approval.state is ApprovalState.CANCELLED and approval.decision_reason:
        extra = f"<p>Withdrawn: {html.escape(approval.decision_reason)}</p>"
    if approval.state is ApprovalState.SUPERSEDED and approval.superseded_by:
        extra = f"<p>Replaced by request {html.escape(approval.superseded_by)}.</p>"
    body = (
        f"<p>This request is <strong>{html.escape(state)}</strong>; nothing more to do.</p>"
        f"<p>Decided by {html.escape(who)} at {html.escape(when)}.</p>{extra}"
        f"{_facts_table(approval)}"
    )
    return _page(f"{approval.metadata.name} {approval.metadata.version}: {state}", body)


_REFUSALS = {
    Refusal.OWNER: "You own this model: separation of duties forbids approving your own model.",
    Refusal.PUSHER: "You pushed this artifact: separation of duties forbids approving it.",
    Refusal.REGISTRANT: "You registered this model: separation of duties forbids approving it.",
    Refusal.WRONG_PRINCIPAL: "You are signed in as someone else than this approver.",
    Refusal.NOT_AN_APPROVER: "You are not an approver of this region.",
    Refusal.ALREADY_VOTED: "Your vote was already recorded; it counts once.",
    Refusal.EXPIRED: "This request expired before your vote.",
    Refusal.FINAL: "This request was already decided.",
}


def vote_recorded(approval: Approval, counted: bool, refusal: Refusal | None) -> str:
    if counted:
        status = (
            f"The request is now <strong>{html.escape(str(approval.state))}</strong>."
            if approval.is_final
            else f"It waits for more approvals ({html.escape(str(approval.min_approvals))} needed)."
        )
        body = (
            f"<p class='ok' id='confirmation'>Thank you, your vote was recorded.</p><p>{status}</p>"
        )
    else:
        message = _REFUSALS.get(refusal, "Your vote changed nothing.") if refusal else ""
        body = f"<p class='bad' id='refusal'>{html.escape(message)}</p>"
    return _page(f"{approval.metadata.name} {approval.metadata.version}", body)


def problem(title: str, message: str) -> str:
    return _page(title, f"<p class='bad'>{html.escape(message)}</p>")
