"""The analysis page: a signed-in approver sees why a rollout paused and continues or rolls back.

``GET /api/models/{model}/analysis`` shows the paused gate's last measurements; its form posts
back with a CSRF token bound to the approver, the rollout and the measurement it showed (the
approval links' HMAC keys), so a cross-site form, a replayed form from an earlier pause or a
form of another approver is refused. Server-side HTML, no JavaScript, every value escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain.approval.links import LinkSigner
from shared.services.approval.review_page import SECURITY_HEADERS
from shared.services.deploy.decisions import continue_rollout
from shared.services.deploy.rollback import (
    RollbackDeps,
    RollbackRefused,
    _authorise,
    request_rollback,
)

MAX_REASON = 500


@dataclass(frozen=True)
class DecisionPage:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: dict(SECURITY_HEADERS))


def _page(title: str, inner: str, status: int = 200) -> DecisionPage:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width">'
        f"<title>{html.escape(title)}</title><body><h1>{html.escape(title)}</h1>{inner}</body>"
    )
    return DecisionPage(status, body)


def _binding(identity: str, deployment_id: str, step: int, tick: int) -> str:
    return f"analysis|{deployment_id}|{step}|{tick}|{identity}"


def handle(
    method: str,
    model: str,
    identities: list[str],
    groups: tuple[str, ...],
    form: Mapping[str, str],
    deps: RollbackDeps,
    signer: LinkSigner,
    *,
    object_id: str | None = None,
) -> DecisionPage:
    state, _ = deps.state.get(deps.cell.name, model)
    rollout = state.rollout
    a = rollout.analysis if rollout is not None else None
    if rollout is None or a is None or a.paused_until is None or a.resumed_by is not None:
        return _page("Nothing to decide", f"<p>No rollout of {html.escape(model)} waits.</p>", 404)
    try:
        identity = _authorise(identities, groups, object_id, rollout.plan.release, deps.cell)
    except RollbackRefused as exc:
        return _page("Not an approver", f"<p>{html.escape(str(exc))}</p>", exc.status)
    binding = _binding(identity, rollout.deployment_id, a.step, a.tick)
    if method == "POST":
        return _decide(model, identity, identities, groups, form, deps, signer, binding, object_id)
    rows = "".join(
        f"<tr><th>{html.escape(m.check)}</th><td>{html.escape(m.outcome.value)}</td>"
        f"<td>{html.escape(m.note)}</td></tr>"
        for m in a.last
    )
    csrf = html.escape(signer.csrf_token(binding))
    plan = rollout.plan
    form_html = (
        '<form method=post><input type=hidden name=csrf value="' + csrf + '">'
        "<p><label>Reason <textarea name=reason maxlength=500></textarea></label></p>"
        "<button name=action value=continue>Continue the rollout</button> "
        "<button name=action value=rollback>Roll back</button></form>"
    )
    inner = (
        f"<p>{html.escape(plan.model)} {html.escape(plan.metadata.version)} in "
        f"{html.escape(plan.region)}: the metric analysis was inconclusive. Without a decision "
        f"by {a.paused_until:%Y-%m-%d %H:%M:%S} UTC the previous version is restored.</p>"
        f"<table>{rows}</table>{form_html}"
    )
    return _page("Metric analysis inconclusive", inner)


def _decide(
    model: str,
    identity: str,
    identities: list[str],
    groups: tuple[str, ...],
    form: Mapping[str, str],
    deps: RollbackDeps,
    signer: LinkSigner,
    binding: str,
    object_id: str | None = None,
) -> DecisionPage:
    if not signer.check_csrf(binding, form.get("csrf", "")):
        return _page("Form expired", "<p>Reload the analysis page and decide again.</p>", 403)
    reason = (form.get("reason") or "").strip()[:MAX_REASON] or None
    action = form.get("action")
    try:
        if action == "continue":
            done = continue_rollout(
                model, identities, "easy_auth", reason, deps, groups=groups, object_id=object_id
            )
            return _page("Continued", f"<p>Step {done.step + 1} runs now.</p>", 202)
        if action == "rollback":
            request_rollback(
                model, [identity], "easy_auth", reason, deps, groups=groups, object_id=object_id
            )
            return _page("Rolling back", "<p>The previous version is being restored.</p>", 202)
    except RollbackRefused as exc:
        return _page("Refused", f"<p>{html.escape(str(exc))}</p>", exc.status)
    return _page("Unknown action", "<p>Choose continue or roll back.</p>", 400)
