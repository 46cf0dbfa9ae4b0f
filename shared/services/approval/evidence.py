"""Supply-chain evidence as approvers see it: facts rows, a red flag, and the card's warning.

One small renderer, called by the review page, the Teams card and the mail; every value is
escaped by its caller (page) or by ``card_text`` (card).
"""

from __future__ import annotations

import html
from typing import Any

from shared.domain.supply_chain.verdict import SupplyChainEvidence


def evidence_facts(evidence: SupplyChainEvidence | None) -> list[tuple[str, str]]:
    if evidence is None:
        return []
    if evidence.signed_by:
        signed = ", ".join(
            f"{who} ({_short(key)})"
            for who, key in zip(evidence.signed_by, evidence.signer_keys, strict=False)
        )
    else:
        signed = (
            "NOT SIGNED by a trusted key" if evidence.flagged or evidence.required else "unsigned"
        )
    attestations = "; ".join(a.describe() for a in evidence.attestations) or "none"
    rows = [("Signed by", signed), ("Attestations", attestations)]
    if evidence.flagged:
        rows.append(("Supply-chain flags", "; ".join(p.code for p in evidence.problems)))
    return rows


def _short(key: str) -> str:
    """A fingerprint fits a phone screen; the lineage keeps it whole."""
    return key[:23] + "..." if key.startswith("sha256:") else key


def evidence_html(evidence: SupplyChainEvidence | None) -> str:
    """The review page's supply-chain paragraph: green when verified, red when flagged."""
    if evidence is None:
        return ""
    if not evidence.flagged:
        who = ", ".join(evidence.signed_by)
        text = f"Signature: verified ({who})." if who else "Signature: none (not required)."
        return f"<p class='ok' id='supply-chain'>{html.escape(text)}</p>"
    items = "".join(
        f"<li><code>{html.escape(p.code)}</code> {html.escape(p.message)}</li>"
        for p in evidence.problems
    )
    return (
        "<div class='bad' id='supply-chain' role='alert'><p><strong>&#9888; Supply-chain "
        f"evidence is missing or failing</strong></p><ul>{items}</ul></div>"
    )


def evidence_card_block(evidence: SupplyChainEvidence | None, escape: Any) -> list[dict[str, Any]]:
    if evidence is None or not evidence.flagged:
        return []
    text = "Supply-chain evidence missing or failing: " + "; ".join(
        f"{p.code}: {p.message}" for p in evidence.problems
    )
    return [{"type": "TextBlock", "wrap": True, "color": "Attention", "text": escape(text)}]
