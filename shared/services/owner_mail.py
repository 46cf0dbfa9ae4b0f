"""Mails to model owners, composed safely: every label-derived value is escaped for its medium."""

from __future__ import annotations

import html
import re
import unicodedata

from pydantic import EmailStr, TypeAdapter, ValidationError

from shared.domain.intake.codes import MEANINGS, IntakeCode
from shared.domain.lineage.record import ArtifactRef, Reason
from shared.ports.mail import OutboundMail

_EMAIL = TypeAdapter(EmailStr)
_OWNER_KEY = "ai.clearance.owner"
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # safe to paste into a shell


def header_safe(text: str, limit: int = 120) -> str:
    """One line, no control or format characters, bounded: safe in a mail header."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in text
    )
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return cleaned[:limit]


def owner_address(labels: dict[str, str]) -> str | None:
    """The owner label if it is one valid address, else None (the platform channel is told)."""
    raw = labels.get(_OWNER_KEY, "")
    if not raw or len(raw) > 254:
        return None
    try:
        return str(_EMAIL.validate_python(raw))
    except ValidationError:
        return None


def describe(artifact: ArtifactRef) -> str:
    if artifact.kind == "aml_model":
        return f"Azure ML model {artifact.model}:{artifact.version} in {artifact.workspace}"
    where = f"{artifact.registry}/{artifact.repository}"
    return f"image {where}@{artifact.digest}" + (f" (tag {artifact.tag})" if artifact.tag else "")


MAX_QUOTED_KEY = 40


def quoted_key(key: str | None) -> str:
    """A label key as a rejection mail may quote it: printable, at most a few dozen chars."""
    if not key:
        return "-"
    shown = "".join(c if c.isprintable() and c.isascii() else "?" for c in key)
    return shown if len(shown) <= MAX_QUOTED_KEY else shown[: MAX_QUOTED_KEY - 3] + "..."


def check_command(artifact: ArtifactRef) -> str:
    """The ``clearance check`` command line an owner can paste (the labels file is positional)."""
    if artifact.kind == "aml_model":
        name = artifact.model if artifact.model and _PLAIN.match(artifact.model) else "NAME"
        version = (
            artifact.version if artifact.version and _PLAIN.match(artifact.version) else "VERSION"
        )
        return f"clearance check --kind aml-model --name {name} --version {version} tags.env"
    return "clearance check labels.env"


def rejection_mail(
    to: str, artifact: ArtifactRef, reasons: tuple[Reason, ...], *, region: str, owner_known: bool
) -> OutboundMail:
    """Only Clearance's own words and the codes: no value a pusher chose is quoted beyond a
    bounded key, so the mail cannot carry someone else's message (the lineage has it all)."""
    what = header_safe(describe(artifact), 160)
    command = check_command(artifact)
    intro = (
        "Clearance did not accept your model for approval."
        if owner_known
        else "Clearance rejected an artifact whose owner label is missing, not an address, or "
        "outside the organisation's domains."
    )
    quoted = [(r.code, quoted_key(r.field), _meaning(r.code)) for r in reasons[:MAX_QUOTED]]
    more = len(reasons) - len(quoted)
    lines = [f"- {code} [{key}]: {meaning}" for code, key, meaning in quoted]
    if more > 0:
        lines.append(f"- and {more} more (see the audit page)")
    text = "\n".join(
        [
            intro,
            "",
            f"Artifact: {what}",
            f"Region: {region}",
            "",
            "Fix these and push again:",
            *lines,
            "",
            f"Check labels before pushing: {command}",
        ]
    )
    items = "".join(
        f"<li><code>{html.escape(code)}</code> <code>{html.escape(key)}</code>: "
        f"{html.escape(meaning)}</li>"
        for code, key, meaning in quoted
    ) + (f"<li>and {more} more (see the audit page)</li>" if more > 0 else "")
    body = (
        f"<p>{html.escape(intro)}</p><p>Artifact: <code>{html.escape(what)}</code><br>"
        f"Region: {html.escape(region)}</p><p>Fix these and push again:</p><ul>{items}</ul>"
        f"<p>Check labels before pushing: <code>{html.escape(command)}</code></p>"
    )
    name = artifact.model or artifact.repository or "artifact"
    subject = header_safe(
        f"Clearance rejected {name}" + (f":{artifact.version}" if artifact.version else ""), 80
    )
    return OutboundMail(to=(to,), subject=subject, text=text, html=body)


MAX_QUOTED = 20


def _meaning(code: str) -> str:
    try:
        return MEANINGS[IntakeCode(code)]
    except ValueError:
        return "see the audit page"
