"""What approvers and owners read: the Teams card and the mails, every label value escaped.

Values that came from labels or tags are data. In HTML they are escaped with ``html.escape``;
in Adaptive Card text (a Markdown subset) every Markdown and autolink character is
backslash-escaped and newlines are flattened; in mail headers they are one bounded line.
"""

from __future__ import annotations

import html
import re
from typing import Any

from shared.domain.approval.record import Approval
from shared.domain.approval.view import Change, people
from shared.ports.mail import OutboundMail
from shared.services.approval.evidence import evidence_card_block, evidence_facts
from shared.services.owner_mail import describe, header_safe

# Markdown that would act anywhere in a one-line value; line-start markers are handled apart.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~|])")
_LINE_START = re.compile(r"^(\s*)([-+*]|#{1,6}|\d+[.)])(?=\s|$)")
_AUTOLINK = re.compile(r"(?i)(https?|ftp|www)(?=[:.])")
_WORD_JOINER = "\u2060"
MAX_CARD_VALUE = 300


def _escape_marker(m: re.Match[str]) -> str:
    marker = m.group(2)
    if marker[0].isdigit():  # "1." starts a list; "1\." does not
        return f"{m.group(1)}{marker[:-1]}\\{marker[-1]}"
    return f"{m.group(1)}\\{marker}"


def card_text(value: object) -> str:
    """Safe for Adaptive Card TextBlock/FactSet markdown: no markup, no links, one line. Only
    characters that would act are escaped (no stray backslashes in names, versions, addresses);
    autolinks are broken with an invisible word joiner rather than a backslash."""
    text = " ".join(str(value).split())[:MAX_CARD_VALUE]
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LINE_START.sub(_escape_marker, text)
    return _AUTOLINK.sub(lambda m: m.group(1) + _WORD_JOINER, text)


def short_digest(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")[:12]


def facts(approval: Approval, live_now: str | None) -> list[tuple[str, str]]:
    m = approval.metadata
    artifact = approval.artifact
    rows = [
        ("Model", m.name),
        ("Version", m.version),
        (
            "Digest" if artifact.kind == "image" else "Workspace",
            short_digest(artifact.digest) if artifact.kind == "image" else artifact.workspace or "",
        ),
        *people(approval),
        ("Source region", approval.region),
        ("Target regions", ", ".join(m.regions)),
        ("Residency zone", m.residency),
        ("Strategy", m.rollout.strategy),
        ("Risk tier", str(m.risk_tier)),
        ("Live now", live_now or "nothing yet"),
        ("Approvals needed", str(approval.min_approvals)),
        ("Expires (UTC)", f"{approval.expires_at:%Y-%m-%d %H:%M}"),
        *evidence_facts(approval.supply_chain),
    ]
    if m.version_intent:
        rows.insert(2, ("Version intent", m.version_intent))
    if approval.stage:
        rows.insert(2, ("Stage", approval.stage))
    return [*(("Attention", note) for note in approval.notes), *rows]


def withdrawn_card(approval: Approval) -> dict[str, Any]:
    """The Teams post that tells approvers a request they saw is withdrawn (no action)."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "size": "Medium",
                "weight": "Bolder",
                "wrap": True,
                "text": f"Withdrawn: {card_text(approval.metadata.name)} "
                f"{card_text(approval.metadata.version)}; nothing to do",
            },
            {
                "type": "TextBlock",
                "wrap": True,
                "text": card_text(approval.decision_reason or "withdrawn"),
            },
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Digest", "value": card_text(short_digest(approval.artifact.digest))},
                    {"title": "Region", "value": card_text(approval.region)},
                ],
            },
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _change_facts(changes: list[Change]) -> list[dict[str, str]]:
    return [
        {"title": card_text(c.what), "value": card_text(f"{c.live} -> {c.requested}")}
        for c in changes[:20]
    ]


def teams_card(
    approval: Approval,
    review_url: str,
    live_now: str | None,
    changes: list[Change] | None = None,
    downgrade: bool = False,
) -> dict[str, Any]:
    """A Teams Workflows webhook post carrying one Adaptive Card."""
    extra: list[dict[str, Any]] = []
    if downgrade:
        extra.append(
            {
                "type": "TextBlock",
                "wrap": True,
                "color": "Attention",
                "weight": "Bolder",
                "text": "Downgrade: this version is lower than the one live now.",
            }
        )
    if changes:
        extra += [
            {"type": "TextBlock", "wrap": True, "weight": "Bolder", "text": "Changes against live"},
            {"type": "FactSet", "facts": _change_facts(changes)},
        ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "size": "Medium",
                "weight": "Bolder",
                "wrap": True,
                "text": f"Approval requested: {card_text(approval.metadata.name)} "
                f"{card_text(approval.metadata.version)}",
            },
            {
                "type": "FactSet",
                "facts": [
                    {"title": card_text(k), "value": card_text(v)}
                    for k, v in facts(approval, live_now)
                ],
            },
            *extra,
            *evidence_card_block(approval.supply_chain, card_text),
            {
                "type": "TextBlock",
                "wrap": True,
                "isSubtle": True,
                "text": "Each approver receives a personal link by email; this button opens the "
                "review page for approvers signed in with their work account.",
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Review", "url": review_url}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _fact_rows_html(approval: Approval, live_now: str | None) -> str:
    return "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in facts(approval, live_now)
    )


def approver_mail(
    approval: Approval, approver: str, link: str, live_now: str | None
) -> OutboundMail:
    m = approval.metadata
    text_facts = "\n".join(f"{k}: {' '.join(v.split())}" for k, v in facts(approval, live_now))
    text = (
        f"Clearance asks you to approve {describe(approval.artifact)}.\n\n{text_facts}\n\n"
        f"Review and decide (this link is personal, do not forward it):\n{link}\n"
    )
    body = (
        f"<p>Clearance asks you to approve <code>{html.escape(describe(approval.artifact))}"
        f"</code>.</p><table>{_fact_rows_html(approval, live_now)}</table>"
        f'<p><a href="{html.escape(link, quote=True)}">Review and decide</a> '
        "(this link is personal, do not forward it).</p>"
    )
    subject = header_safe(f"Approval requested: {m.name} {m.version} in {approval.region}")
    return OutboundMail(to=(approver,), subject=subject, text=text, html=body)


def decision_mail(approval: Approval, to: tuple[str, ...], headline: str) -> OutboundMail:
    """To the owner (and approvers where useful): approved, rejected with reason, expired..."""
    m = approval.metadata
    who = ", ".join(approval.decided_by) or "nobody"
    reason = approval.decision_reason or ""
    text = (
        f"{headline}\n\nArtifact: {describe(approval.artifact)}\nRegion: {approval.region}\n"
        f"State: {approval.state}\nDecided by: {who}\n" + (f"Reason: {reason}\n" if reason else "")
    )
    body = (
        f"<p>{html.escape(headline)}</p><p>Artifact: "
        f"<code>{html.escape(describe(approval.artifact))}</code><br>"
        f"Region: {html.escape(approval.region)}<br>State: "
        f"{html.escape(approval.state)}<br>Decided by: {html.escape(who)}</p>"
        + (f"<p>Reason: {html.escape(reason)}</p>" if reason else "")
    )
    subject = header_safe(f"{m.name} {m.version} in {approval.region}: {approval.state}")
    return OutboundMail(to=to, subject=subject, text=text, html=body)
