"""How `clearance lineage` prints answers: a rich table, JSON, NDJSON or CSV (streamed)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.table import Table

from shared.domain.lineage.export import (
    COLUMNS,
    csv_header,
    csv_line,
    entry_document,
    to_csv_row,
    to_ndjson_line,
)
from shared.domain.lineage.views import AuditEntry, LiveEntry
from shared.services.lineage.http_api import live_document


def artifact_label(entry: AuditEntry) -> str:
    a = entry.record.artifact
    if a.kind == "image":
        return f"{a.repository}@{(a.digest or '')[:19]}{f' ({a.tag})' if a.tag else ''}"
    if a.kind == "aml_model":
        return f"{a.workspace}/{a.model}:{a.version}"
    return a.key


def write_entries(entries: Iterable[AuditEntry], fmt: str, out: TextIO, title: str = "") -> int:
    """Write entries as they come; returns how many were written."""
    count = 0
    if fmt == "table":
        table = Table(
            "region", "when (UTC)", "step", "who", "artifact", "what / why", "#", title=title
        )
        for e in entries:
            r = e.record
            why = "; ".join(f"{x.code}: {x.message}" for x in r.reasons)
            what = ", ".join(f"{k}={v}" for k, v in {**r.where, **r.details}.items())
            who = f"{r.actor.identity} ({r.actor.established_by})"
            if e.role and e.role != "actor":
                who += f" [{e.role}]"
            table.add_row(
                e.region,
                f"{r.at:%Y-%m-%d %H:%M:%S}",
                str(r.kind),
                who,
                artifact_label(e),
                why or what,
                str(e.seq),
            )
            count += 1
        Console(file=out, width=200).print(table)
        return count
    if fmt == "csv":
        out.write(csv_header())
    elif fmt == "json":
        out.write("[")
    for e in entries:
        if fmt == "json":
            out.write(("," if count else "") + "\n" + json.dumps(entry_document(e)))
        elif fmt == "ndjson":
            out.write(to_ndjson_line(e))
        else:
            out.write(csv_line(e))
        count += 1
    if fmt == "json":
        out.write("\n]\n")
    return count


def write_live(entries: Iterable[LiveEntry], fmt: str, out: TextIO) -> int:
    rows = list(entries)
    if fmt == "table":
        table = Table(
            "region", "model", "artifact", "live since (UTC)", "deployment", "approval", "where"
        )
        for x in rows:
            r = x.record
            where = ", ".join(f"{k}={v}" for k, v in r.where.items())
            table.add_row(
                f"{x.region} ({x.stage})" if x.stage else x.region,
                x.model,
                artifact_label(x.entry),
                f"{x.since:%Y-%m-%d %H:%M:%S}",
                r.correlation.deployment_id or "",
                r.correlation.approval_id or "",
                where,
            )
        Console(file=out, width=200).print(table)
    elif fmt == "json":
        out.write(json.dumps([live_document(x) for x in rows], indent=2) + "\n")
    elif fmt == "ndjson":
        out.writelines(json.dumps(live_document(x)) + "\n" for x in rows)
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["live_model", "live_since", *COLUMNS])
        for x in rows:
            since = live_document(x)["since"]
            writer.writerow([x.model, since, *to_csv_row(x.entry).values()])
    return len(rows)
