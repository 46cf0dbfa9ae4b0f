"""The read-only lineage API of one cell: auditor queries as JSON pages, and the audit page.

``GET /api/lineage/{view}/{key?}``:

| view | parameters | answers |
| --- | --- | --- |
| ``history`` | ``model`` (required), ``version`` | the model's records, chain by chain |
| ``live`` | ``stage`` | what runs in this region now (per stage) |
| ``records`` | ``since``, ``until`` (ISO 8601), ``kind`` | records in a time window |
| ``actors`` | ``identity`` (required), ``kind`` | what an identity did or was asked |
| ``artifacts/{key_hash}`` | | one chain, with a summary on the first page |
| ``served`` | ``model``, ``at`` (both required), ``stage`` | revisions and traffic then |
| ``audit/{key_hash}`` | | the HTML audit page |

All JSON views take ``limit`` (1-1000, default 100) and ``continuation``. A cell answers for its
own region only: another region's lineage is read from that region's cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.domain.errors import InputError, TerminalError, TransientError, Violation
from shared.domain.lineage.export import entry_document
from shared.domain.lineage.served import Served
from shared.domain.lineage.views import LiveEntry, Page, summarise
from shared.services.lineage.audit_page import CSP, render_audit_page
from shared.services.lineage.queries import BAD_QUERY, REGION_UNKNOWN, AuditQueries, every
from shared.services.lineage.verify import ArtifactVerdict

JSON = "application/json"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def live_document(entry: LiveEntry) -> dict[str, Any]:
    return {
        "region": entry.region,
        "model": entry.model,
        **({"stage": entry.stage} if entry.stage else {}),
        "since": entry.since.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "entry": entry_document(entry.entry),
    }


def served_document(served: Served) -> dict[str, Any]:
    def iso(t: datetime) -> str:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z")

    return {
        "region": served.region,
        "model": served.model,
        "at": iso(served.at),
        **({"stage": served.stage} if served.stage else {}),
        "revisions": [{**asdict(r), "since": iso(r.since)} for r in served.revisions],
    }


def page_document(region: str, page: Page[Any]) -> dict[str, Any]:
    items = [
        live_document(i) if isinstance(i, LiveEntry) else entry_document(i) for i in page.items
    ]
    return {"region": region, "items": items, "continuation": page.continuation}


def answer(
    view: str,
    key: str | None,
    params: Mapping[str, str],
    queries: AuditQueries,
    region: str,
    verdict: Callable[[str], ArtifactVerdict] | None = None,
) -> HttpAnswer:
    """Map one request to one query; domain errors become statuses, nothing else is caught."""
    try:
        if params.get("region", region) != region:
            raise InputError(
                [
                    Violation(
                        REGION_UNKNOWN,
                        f"This is the {region} cell; {params['region']}'s lineage is served by "
                        f"its own cell.",
                    )
                ]
            )
        if view == "audit":
            entries = list(every(lambda t: queries.chain(_key(key), region, limit=1000, token=t)))
            if not entries:
                return _error(404, "CLR-LINEAGE-NOT-FOUND", "No such artifact in this region.")
            return HttpAnswer(
                200,
                render_audit_page(entries, verdict(_key(key)) if verdict else None),
                "text/html",
                {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"},
            )
        doc = _json_view(view, key, params, queries, region)
        if doc is None:
            return _error(404, "CLR-LINEAGE-NOT-FOUND", f"No lineage view {view!r}.")
        return HttpAnswer(200, json.dumps(doc, ensure_ascii=False))
    except InputError as exc:
        status = 404 if any(v.code == REGION_UNKNOWN for v in exc.violations) else 400
        errors = [{"code": v.code, "message": v.message} for v in exc.violations]
        return HttpAnswer(status, json.dumps({"errors": errors}))
    except TransientError as exc:
        return HttpAnswer(
            503,
            json.dumps({"errors": [{"code": "CLR-LINEAGE-UNAVAILABLE", "message": str(exc)}]}),
            headers={"Retry-After": "5"},
        )
    except TerminalError as exc:
        return _error(500, "CLR-LINEAGE-CORRUPTED", str(exc))


def _json_view(
    view: str, key: str | None, params: Mapping[str, str], q: AuditQueries, region: str
) -> dict[str, Any] | None:
    limit, token = _limit(params), params.get("continuation") or None
    kind = params.get("kind") or None
    if view == "history":
        model, version = _required(params, "model"), params.get("version") or None
        page: Page[Any] = q.history(model, version, region, limit=limit, token=token)
    elif view == "live":
        page = q.live(region, limit=limit, token=token, stage=_stage(params))
    elif view == "records":
        since, until = _time(params, "since"), _time(params, "until")
        page = q.window(since, until, region, kind, limit=limit, token=token)
    elif view == "actors":
        page = q.by_actor(_required(params, "identity"), region, kind, limit=limit, token=token)
    elif view == "served":
        at = _time(params, "at")
        (answer_,) = q.served(_required(params, "model"), at, region, _stage(params))
        return served_document(answer_)
    elif view == "artifacts":
        page = q.chain(_key(key), region, limit=limit, token=token)
        doc = page_document(region, page)
        if token is None and page.items:
            full = list(every(lambda t: q.chain(_key(key), region, limit=1000, token=t)))
            doc["summary"] = asdict(summarise(full))
        return doc
    else:
        return None
    return page_document(region, page)


def _error(status: int, code: str, message: str) -> HttpAnswer:
    return HttpAnswer(status, json.dumps({"errors": [{"code": code, "message": message}]}))


def _bad(message: str) -> InputError:
    return InputError([Violation(BAD_QUERY, message)])


_STAGE = re.compile(r"^[a-z][a-z0-9-]{1,19}$")


def _stage(params: Mapping[str, str]) -> str | None:
    stage = params.get("stage") or None
    if stage is not None and not _STAGE.fullmatch(stage):
        raise _bad("Query parameter 'stage' must be a stage name.")
    return stage


def _required(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise _bad(f"Query parameter {name!r} is required.")
    return value


def _key(key: str | None) -> str:
    if not key:
        raise _bad("Name the artifact by its key hash: /api/lineage/artifacts/<key_hash>.")
    return key


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit") or "100"
    if not (raw.isascii() and raw.isdigit()):  # "²".isdigit(), yet int("²") raises
        raise _bad("limit must be a whole number between 1 and 1000.")
    return int(raw)


def parse_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: past year 1..9999 in UTC
        raise _bad(f"{name} must be an ISO 8601 time, e.g. 2026-03-01T00:00:00Z.") from exc


def _time(params: Mapping[str, str], name: str) -> datetime:
    return parse_time(_required(params, name), name)
