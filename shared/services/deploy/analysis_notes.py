"""What an analysis run leaves behind: the lineage details, and the note to approvers."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from shared.domain.analysis.verdict import Analysis, Measurement, Verdict
from shared.domain.deploy.plan import DeploymentPlan
from shared.ports.mail import OutboundMail
from shared.services.approval.messages import card_text
from shared.services.owner_mail import header_safe


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def evidence(a: Analysis, verdict: Verdict, tick: int, step: str, provider: str) -> dict[str, str]:
    """Every check, the exact queries, the values, the bound and the verdict, as details."""
    details = {
        "gate": step,
        "verdict": verdict.value,
        "measurement": str(tick + 1),
        "provider": provider,
        "window": f"{a.started_at:%Y-%m-%dT%H:%M:%SZ}..{a.ends_at:%Y-%m-%dT%H:%M:%SZ}",
        "checks": ",".join(c.name for c in a.checks),
    }
    if a.paused_until is not None:
        details["decide_by"] = f"{a.paused_until:%Y-%m-%dT%H:%M:%SZ}"
    for m in a.last:
        p = f"check.{m.check}."
        details |= {
            p + "outcome": m.outcome.value,
            p + "candidate": _num(m.candidate),
            p + "live": _num(m.live),
            p + "samples": _num(m.samples),
            p + "bound": _num(m.bound),
            p + "comparison": m.comparison,
            p + "note": m.note,
            **{p + k: v for k, v in m.queries.items()},
        }
        tally = a.tallies.get(m.check)
        if tally is not None:
            details[p + "tally"] = (
                f"{tally.passes} pass, {tally.failures} fail, {tally.inconclusive} inconclusive"
            )
    return details


def _line(m: Measurement) -> str:
    return f"{m.check}: {m.outcome.value} ({m.note})"


def approver_note(
    plan: DeploymentPlan,
    a: Analysis,
    verdict: Verdict,
    to: Sequence[str],
    app_url: str,
) -> tuple[OutboundMail, dict[str, Any]]:
    """Mail and Teams card: why the rollout was restored, or that it waits for a decision."""
    name, version, region = plan.model, plan.metadata.version, plan.region
    page = f"{app_url.rstrip('/')}/api/models/{name}/analysis"
    if verdict is Verdict.FAIL:
        headline = "Metric analysis failed; the previous version is being restored"
        ask = ""
    else:
        until = f"{a.paused_until:%Y-%m-%d %H:%M} UTC" if a.paused_until else "the deadline"
        headline = "Metric analysis inconclusive; the rollout waits for an approver"
        ask = (
            f"Continue or roll back on the analysis page before {until}; "
            "without a decision the previous version is restored then."
        )
    lines = [_line(m) for m in a.last]
    text = "\n".join(
        [headline, "", f"Model: {name} {version}", f"Region: {region}", "", *lines, "", ask]
        + ([f"Analysis page: {page}"] if ask else [])
    )
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    link = f'<p>{html.escape(ask)} <a href="{html.escape(page)}">Analysis page</a></p>'
    body = (
        f"<p>{html.escape(headline)}</p><p>Model: <code>{html.escape(name)} "
        f"{html.escape(version)}</code><br>Region: {html.escape(region)}</p><ul>{items}</ul>"
        + (link if ask else "")
    )
    mail = OutboundMail(
        to=tuple(dict.fromkeys(to)),
        subject=header_safe(f"Clearance: {headline} ({name} {version}, {region})"),
        text=text,
        html=body,
    )
    card_body: list[dict[str, Any]] = [
        {"type": "TextBlock", "weight": "Bolder", "wrap": True, "text": card_text(headline)},
        {
            "type": "FactSet",
            "facts": [
                {"title": "Model", "value": card_text(f"{name} {version}")},
                {"title": "Region", "value": card_text(region)},
                *({"title": card_text(m.check), "value": card_text(_line(m))} for m in a.last),
            ],
        },
    ]
    if ask:
        card_body.append({"type": "TextBlock", "wrap": True, "text": card_text(ask)})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": card_body,
        "actions": ([{"type": "Action.OpenUrl", "title": "Decide", "url": page}] if ask else []),
    }
    payload = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    return mail, payload
