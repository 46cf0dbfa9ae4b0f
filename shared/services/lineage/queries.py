"""The auditor queries, over each region's own lineage, combined in catalog order.

Every query reads a known list of partitions ("sources") in each region it covers; none scans
a table. Regions are read where they live: a reader per region, answers concatenated, nothing
copied. Pages end with a continuation token (see ``shared.domain.lineage.paging``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from shared.domain.errors import InputError, Violation
from shared.domain.lineage.chain import SEQ_PREFIX, utc_iso
from shared.domain.lineage.index import (
    ARTIFACTS,
    LIVE,
    actor_row_range,
    chain_partition,
    legacy_actor_partition,
    normalise_identity,
    normalise_name,
    window_days,
)
from shared.domain.lineage.paging import Cursor, decode_token, encode_token, query_fingerprint
from shared.domain.lineage.served import Served, served_at
from shared.domain.lineage.views import AuditEntry, IndexedArtifact, LiveEntry, Page
from shared.ports.lineage import LiveLookup, RegionReader

T = TypeVar("T")
MAX_LIMIT = 1000
MAX_WINDOW = timedelta(days=400)
REGION_UNKNOWN = "CLR-LINEAGE-REGION-UNKNOWN"
BAD_QUERY = "CLR-LINEAGE-QUERY-INVALID"


@dataclass(frozen=True)
class Source:
    """One partition of one region, read in row-key order; ``id`` orders the sources."""

    id: str
    region: str
    partition: str
    lo: str | None = None
    hi: str | None = None
    kind: str | None = None
    stage: str | None = None


def _chain_source(source_id: str, region: str, key_hash: str) -> Source:
    return Source(source_id, region, chain_partition(key_hash), lo=SEQ_PREFIX, hi="seq.")


def _bad(message: str, code: str = BAD_QUERY) -> InputError:
    return InputError([Violation(code, message)])


class AuditQueries:
    def __init__(self, readers: Mapping[str, RegionReader]) -> None:
        self._readers = dict(readers)  # insertion order = catalog order

    @property
    def regions(self) -> list[str]:
        return list(self._readers)

    def _scope(self, region: str | None) -> list[tuple[int, str]]:
        if region is None:
            return list(enumerate(self._readers))
        if region not in self._readers:
            raise _bad(
                f"Region {region!r} is not readable here (readable: "
                f"{', '.join(self._readers) or 'none'}); its lineage lives in its own cell.",
                REGION_UNKNOWN,
            )
        return [(list(self._readers).index(region), region)]

    # -- the queries -------------------------------------------------------------------------
    def history(
        self,
        model: str,
        version: str | None = None,
        region: str | None = None,
        *,
        limit: int = 100,
        token: str | None = None,
    ) -> Page[AuditEntry]:
        """Every record of every artifact of a model (optionally one version), oldest first."""
        if not model.strip():
            raise _bad("Name a model (or repository).")
        sources = []
        for pos, name, art in self._artifacts_named(model, version, region):
            first = utc_iso(art.first_at) if art.first_at else "~"
            sources.append(_chain_source(f"{pos:02d}|{first}|{art.key_hash}", name, art.key_hash))
        fp = query_fingerprint("history", normalise_name(model), version, region)
        return self._page(sources, fp, limit, token)

    def chain(
        self,
        key_hash: str,
        region: str | None = None,
        *,
        limit: int = 100,
        token: str | None = None,
    ) -> Page[AuditEntry]:
        """One artifact's chain (by its key hash), in every region in scope."""
        if len(key_hash) != 64 or any(c not in "0123456789abcdef" for c in key_hash):
            raise _bad("An artifact is named by its 64-character key hash.")
        sources = [_chain_source(f"{pos:02d}", name, key_hash) for pos, name in self._scope(region)]
        return self._page(sources, query_fingerprint("chain", key_hash, region), limit, token)

    def window(
        self,
        since: datetime,
        until: datetime,
        region: str | None = None,
        kind: str | None = None,
        *,
        limit: int = 100,
        token: str | None = None,
    ) -> Page[AuditEntry]:
        """Records with ``since <= at < until``, per region in time order."""
        if until <= since:
            raise _bad("--until must be later than --since.")
        if until - since > MAX_WINDOW:
            raise _bad(f"A window spans at most {MAX_WINDOW.days} days; page through years.")
        lo, hi = utc_iso(since), utc_iso(until)
        sources = [
            Source(f"{pos:02d}|{day}", name, day, lo=lo, hi=hi, kind=kind)
            for pos, name in self._scope(region)
            for day in window_days(since, until)
        ]
        fp = query_fingerprint("window", lo, hi, region, kind)
        return self._page(sources, fp, limit, token)

    def by_actor(
        self,
        identity: str,
        region: str | None = None,
        kind: str | None = None,
        *,
        limit: int = 100,
        token: str | None = None,
    ) -> Page[AuditEntry]:
        """Everything an identity did, was asked or pushed, per region in time order."""
        if not identity.strip():
            raise _bad("Name an identity.")
        lo, hi = actor_row_range(identity)
        sources = [
            source
            for pos, name in self._scope(region)
            for source in (
                # rows of the former layout first: all of them predate the move
                Source(f"{pos:02d}|0", name, legacy_actor_partition(identity), kind=kind),
                Source(f"{pos:02d}|1", name, ARTIFACTS, lo=lo, hi=hi, kind=kind),
            )
        ]
        fp = query_fingerprint("actor-2", normalise_identity(identity), region, kind)
        return self._page(sources, fp, limit, token)

    def live(
        self,
        region: str | None = None,
        *,
        limit: int = 100,
        token: str | None = None,
        stage: str | None = None,
    ) -> Page[LiveEntry]:
        """What runs in each region now: one entry per model and stage, with the deployment
        record; with ``stage``, only that stage's entries."""
        sources = [
            Source(f"{pos:02d}", name, LIVE, stage=stage) for pos, name in self._scope(region)
        ]
        fingerprint = query_fingerprint("live", region, *([stage] if stage else []))
        return self._page(sources, fingerprint, limit, token)

    def served(
        self, model: str, at: datetime, region: str | None = None, stage: str | None = None
    ) -> list[Served]:
        """Which revision(s) of ``model`` answered, with what share of traffic, at ``at`` in
        each region in scope, replayed from the deployment records (``lineage.served``)."""
        if not model.strip():
            raise _bad("Name a model.")
        answers = []
        for _, name in self._scope(region):

            def page(token: str | None, name: str = name) -> Page[AuditEntry]:
                return self.history(model, None, name, limit=MAX_LIMIT, token=token)

            answers.append(served_at(model, name, at, every(page), stage))
        return answers

    def artifacts(self, region: str | None = None) -> list[tuple[str, IndexedArtifact]]:
        """Every chain of the regions in scope (the ``artifacts`` index partition)."""
        return [
            (name, art)
            for _, name in self._scope(region)
            for art in self._readers[name].artifacts()
        ]

    def named(
        self, model: str, version: str | None = None, region: str | None = None
    ) -> list[tuple[str, IndexedArtifact]]:
        return [(name, art) for _, name, art in self._artifacts_named(model, version, region)]

    def _artifacts_named(
        self, model: str, version: str | None, region: str | None
    ) -> list[tuple[int, str, IndexedArtifact]]:
        out = []
        for pos, name in self._scope(region):
            for art in self._readers[name].named(model):
                if version is None or version in (art.version, art.tag):
                    out.append((pos, name, art))
        return out

    # -- paging ------------------------------------------------------------------------------
    def _page(
        self, sources: list[Source], fingerprint: str, limit: int, token: str | None
    ) -> Page[Any]:
        if not 1 <= limit <= MAX_LIMIT:
            raise _bad(f"limit must be between 1 and {MAX_LIMIT}.")
        cursor = decode_token(token, fingerprint) if token else None
        ordered = sorted(sources, key=lambda s: s.id)
        items: list[Any] = []
        for i, src in enumerate(ordered):
            if cursor is not None and src.id < cursor.source:
                continue
            after = cursor.after if cursor is not None and src.id == cursor.source else None
            rows, more = self._read(src, after, limit - len(items))
            items.extend(item for _, item in rows)
            if len(items) >= limit:
                if more:
                    nxt: Cursor | None = Cursor(src.id, rows[-1][0])
                else:
                    nxt = Cursor(ordered[i + 1].id, None) if i + 1 < len(ordered) else None
                return Page(items, encode_token(nxt, fingerprint) if nxt else None)
        return Page(items, None)

    def _read(self, src: Source, after: str | None, limit: int) -> tuple[list[Any], bool]:
        reader = self._readers[src.region]
        if src.partition == LIVE:
            return reader.live(src.region, after=after, limit=limit, stage=src.stage)
        return reader.entries(
            src.region, src.partition, lo=src.lo, hi=src.hi, after=after, kind=src.kind, limit=limit
        )


def every(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Follow continuation tokens to the end: ``every(lambda t: q.live(token=t, limit=1000))``."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.items
        if page.continuation is None:
            return
        token = page.continuation


def live_now(reader: LiveLookup, region: str, model: str) -> str | None:
    """One line for people deciding about a new version: what runs now, and since when.

    Fits ``ApprovalDeps.live_now`` (region, model) -> str | None.
    """
    live = reader.live_of(region, model)
    if live is None:
        return None
    a = live.record.artifact
    what = a.version or a.tag or (a.digest or "")[:19] or a.key
    return f"{what} ({a.digest or a.key}) since {live.since:%Y-%m-%d %H:%M} UTC"
