"""The HTML audit page of one artifact: its summary and its timeline, rendered server-side.

Every value comes from stored records, and records carry image labels and tags chosen by
whoever pushed the image: all of it is escaped, always, through ``_e``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from shared.domain.lineage.views import ArtifactSummary, AuditEntry, summarise
from shared.services.lineage.verify import ArtifactVerdict

CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:75rem}
h1{font-size:1.3rem} table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} code{font-size:12px;word-break:break-all} dt{font-weight:600}
dd{margin:0 0 .5rem 0} .rejected,.failed,.rolled_back,.expired{color:#a00000}
.approved,.succeeded{color:#006100}
.badge{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:700}
.verified{background:#dff6dd;color:#006100} .unverified{background:#fde7e9;color:#a00000}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _list(values: Iterable[str]) -> str:
    items = [_e(v) for v in values]
    return ", ".join(items) if items else "<em>none recorded</em>"


def render_audit_page(entries: list[AuditEntry], verdict: ArtifactVerdict | None = None) -> str:
    """A self-contained page (no scripts, no external resources)."""
    if not entries:
        raise ValueError("an audit page needs at least one record")
    summary = summarise(entries)
    first = entries[0]
    rows = "\n".join(_row(e) for e in entries)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Audit: {_e(summary.artifact_key)}</title><style>{_STYLE}</style></head>
<body>
<h1>Audit trail of <code>{_e(summary.artifact_key)}</code></h1>
<p>Region <strong>{_e(first.region)}</strong>, chain <code>{_e(first.key_hash)}</code>,
{len(entries)} record(s). Each record's hash covers its content and its predecessor's hash;
<code>clearance lineage verify</code> checks the chain.</p>
{_verdict(verdict)}
{_summary(summary)}
<h2>Timeline</h2>
<table><thead><tr><th>#</th><th>when (UTC)</th><th>step</th><th>who</th><th>what / where</th>
<th>why</th><th>correlation</th><th>hash</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def _verdict(v: ArtifactVerdict | None) -> str:
    """The badge needs both: the chain under a signed checkpoint, and every index copy."""
    if v is None:
        return '<p><span class="badge unverified">not verified</span> (no verifier)</p>'
    badge = (
        '<span class="badge verified">verified</span>'
        if v.verified
        else '<span class="badge unverified">NOT verified</span>'
    )
    lines = []
    if v.covered is not None:
        seq, at = v.covered
        lines.append(
            f"Records 1-{seq} are covered by the signed checkpoint of "
            f"{_e(f'{at:%Y-%m-%d %H:%M:%S}')} UTC."
        )
        if v.uncovered > 0:
            lines.append(
                f"{v.uncovered} newer record(s) are not covered yet (the blind window: "
                "the next checkpoint signs them within about 20 seconds)."
            )
    elif v.check.ok:
        lines.append("No signed checkpoint covers this chain yet.")
    if v.check.fault is not None:
        lines.append(f"Chain: {_e(v.check.fault.describe())}")
    lines += [f"Index: {_e(f.describe())}" for f in v.index_faults[:20]]
    if v.anomalies:
        lines.append(
            f"{len(v.anomalies)} blob(s) under the checkpoint prefix are not genuine "
            "checkpoints (reported by verify):"
        )
        lines += [f"&nbsp;&nbsp;{_e(a[:300])}" for a in v.anomalies[:10]]
    return f"<p>{badge}</p>\n<p>{'<br>'.join(lines)}</p>"


def _summary(s: ArtifactSummary) -> str:
    votes = [f"{who}: {decision}" for who, decision in s.voted.items()]
    return f"""<dl>
<dt>Pushed by</dt><dd>{_list(s.pushed_by)}</dd>
<dt>Asked to approve</dt><dd>{_list(s.asked)}</dd>
<dt>Votes</dt><dd>{_list(votes)}</dd>
<dt>Asked and did not answer</dt><dd>{_list(s.did_not_answer)}</dd>
<dt>Approved by</dt><dd>{_list(s.approved_by)}</dd>
<dt>Rejections</dt><dd>{_list(s.rejections)}</dd>
<dt>Deployed</dt><dd>{_list(s.deployed)}</dd>
<dt>Rolled back</dt><dd>{_list(s.rolled_back)}</dd>
<dt>Metric analysis</dt><dd>{_list(s.analyses)}</dd>
<dt>Last step</dt><dd>{_e(s.final_kind or "")}</dd>
</dl>"""


def _row(e: AuditEntry) -> str:
    r = e.record
    a = r.artifact
    what = [
        f"{k}={v}" for k, v in (("tag", a.tag), ("model", a.model), ("version", a.version)) if v
    ]
    what += [f"{k}={v}" for k, v in sorted(r.where.items())]
    what += [f"{k}={v}" for k, v in sorted(r.details.items())]
    why = [f"{x.code}{f' [{x.field}]' if x.field else ''}: {x.message}" for x in r.reasons]
    c = r.correlation
    corr = [
        f"{k}={v}"
        for k, v in (
            ("event", c.event_id),
            ("approval", c.approval_id),
            ("deployment", c.deployment_id),
        )
        if v
    ]
    css = str(r.kind).split(".")[-1]
    return (
        f"<tr><td>{e.seq}</td><td>{_e(f'{r.at:%Y-%m-%d %H:%M:%S}')}</td>"
        f'<td class="{_e(css)}">{_e(r.kind)}</td>'
        f"<td>{_e(r.actor.identity)}<br><small>{_e(r.actor.established_by)}</small></td>"
        f"<td>{'<br>'.join(_e(w) for w in what)}</td>"
        f"<td>{'<br>'.join(_e(w) for w in why)}</td>"
        f"<td>{'<br>'.join(_e(w) for w in corr)}</td>"
        f"<td><code>{_e(e.hash[:16])}…</code></td></tr>"
    )
