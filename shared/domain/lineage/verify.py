"""Verifying one stored chain: every link, its place, its predecessor, the head and the anchor.

The anchor is the chain's entry in the newest chain-head snapshot (an immutable blob): it
catches what the table alone cannot, a chain rewritten from some link onwards with fresh
hashes, a truncated tail together with its head row, or a chain deleted outright.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from shared.domain.lineage.chain import (
    GENESIS,
    ChainFormatError,
    HeadMark,
    Link,
    seq_of,
    seq_row_key,
)


class Fault(StrEnum):
    SEQUENCE_GAP = "sequence_gap"  # a record is missing (deleted) or a foreign row appeared
    MOVED = "moved"  # the body says another position than the row it is stored in (re-ordered)
    UNREADABLE = "unreadable"  # the body is not a well-formed link
    EDITED = "edited"  # the body no longer hashes to the stored hash
    BROKEN_LINK = "broken_link"  # prev does not match the predecessor's hash
    HEAD_MISMATCH = "head_mismatch"  # the head row disagrees with the last record
    TRUNCATED = "truncated"  # records the head or snapshot saw are gone
    REWRITTEN = "rewritten"  # the record at the snapshot's position has another hash now
    MISSING_CHAIN = "missing_chain"  # an index or snapshot knows the chain; the table does not


@dataclass(frozen=True)
class StoredLink:
    """A chain row as the table holds it."""

    row_key: str
    body: str
    stored_hash: str
    stored_prev: str


@dataclass(frozen=True)
class ChainFault:
    fault: Fault
    row_key: str | None
    detail: str

    def describe(self) -> str:
        where = f" at {self.row_key}" if self.row_key else ""
        return f"{self.fault}{where}: {self.detail}"


@dataclass(frozen=True)
class ChainCheck:
    key_hash: str
    records: int
    last: HeadMark | None
    fault: ChainFault | None

    @property
    def ok(self) -> bool:
        return self.fault is None


def verify_chain(
    key_hash: str,
    links: Iterable[StoredLink],
    head: HeadMark | None,
    anchor: HeadMark | None = None,
    on_link: Callable[[Link], None] | None = None,
) -> ChainCheck:
    """Check a chain in row-key order; report the first broken link.

    A link whose stored bytes hash to its stored hash and name the right predecessor and
    position is accepted without decoding its record (integrity is the hash; every reader
    still parses and refuses a malformed record); anything else is decoded to say exactly
    what is wrong. ``on_link`` receives every link decoded (for the index check).
    """
    count, last, at_anchor = 0, None, None
    for stored in links:
        expected = count + 1
        predecessor = last.hash if last is not None else GENESIS
        if on_link is None and _intact(stored, expected, predecessor):
            fault = None
        else:
            fault = _check_link(stored, expected, last)
            if fault is None and on_link is not None:
                on_link(Link.parse(stored.body))
        if fault is not None:
            return ChainCheck(key_hash, count, last, fault)
        count, last = expected, HeadMark(expected, stored.stored_hash)
        if anchor is not None and expected == anchor.seq:
            at_anchor = last
    return ChainCheck(key_hash, count, last, _check_ends(last, head, anchor, at_anchor))


def verify_records(
    key_hash: str, records: list[tuple[str, str]], anchor: HeadMark | None
) -> ChainCheck:
    """An exported chain, (hash, body) in order: the tight loop of offline verification.

    Every body must hash to its hash, name the previous hash and its own position; the last
    must reach what the checkpoint signed. The first record that does not is handed to
    ``verify_chain`` to say exactly what is wrong.
    """
    sha256, prev, seq = hashlib.sha256, GENESIS, 0
    for seq, (stored_hash, body) in enumerate(records, start=1):
        if (
            body[9:73] != prev
            or not body.endswith(f',"seq":{seq},"v":1}}')
            or body[73:84] != _RECORD
            or not body.startswith(_HEAD)
            or sha256(body.encode("utf-8")).hexdigest() != stored_hash
        ):
            break
        prev = stored_hash
    else:
        head = HeadMark(seq, prev) if seq else None
        return ChainCheck(
            key_hash, seq, head, _check_ends(head, head, anchor, _at(records, anchor))
        )
    links = (
        StoredLink(seq_row_key(i), body, h, body[9:73])
        for i, (h, body) in enumerate(records, start=1)
    )
    last = HeadMark(len(records), records[-1][0]) if records else None
    return verify_chain(key_hash, links, last, anchor)


def _at(records: list[tuple[str, str]], anchor: HeadMark | None) -> HeadMark | None:
    if anchor is None or not 1 <= anchor.seq <= len(records):
        return None
    return HeadMark(anchor.seq, records[anchor.seq - 1][0])


_HEAD, _TAIL, _SEQ, _RECORD = '{"prev":"', ',"v":1}', ',"seq":', '","record":'


def _intact(stored: StoredLink, expected: int, predecessor: str) -> bool:
    """The fast path: the canonical body ``{"prev":…,"record":…,"seq":n,"v":1}`` read by
    position (canonical JSON sorts its keys), hashed, and compared."""
    body = stored.body
    if not (body.startswith(_HEAD) and body.endswith(_TAIL)):
        return False
    if body[9:73] != predecessor or body[73:84] != _RECORD or stored.stored_prev != predecessor:
        return False
    at = body.rfind(_SEQ, 0, len(body) - len(_TAIL))
    if at < 0 or body[at + len(_SEQ) : len(body) - len(_TAIL)] != str(expected):
        return False
    if seq_of(stored.row_key) != expected:
        return False
    return hashlib.sha256(body.encode("utf-8")).hexdigest() == stored.stored_hash


def _check_link(stored: StoredLink, expected: int, last: HeadMark | None) -> ChainFault | None:
    row = stored.row_key
    position = seq_of(row)
    if position != expected:
        return ChainFault(
            Fault.SEQUENCE_GAP,
            seq_row_key(expected),
            f"this record is missing (deleted?): the next row is {row!r}",
        )
    try:
        link = Link.parse(stored.body)
    except ChainFormatError as exc:
        return ChainFault(Fault.UNREADABLE, row, str(exc))
    if link.seq != expected:
        return ChainFault(Fault.MOVED, row, f"the record's body says seq {link.seq}")
    if link.hash != stored.stored_hash:
        return ChainFault(
            Fault.EDITED,
            row,
            f"body hashes to {link.hash[:16]}…, stored {stored.stored_hash[:16]}…",
        )
    predecessor = last.hash if last is not None else GENESIS
    if link.prev_hash != predecessor or stored.stored_prev != link.prev_hash:
        return ChainFault(
            Fault.BROKEN_LINK,
            row,
            f"prev {link.prev_hash[:16]}… does not match the preceding record's hash "
            f"{predecessor[:16]}… (this record or the one before it was altered)",
        )
    return None


def _check_ends(
    last: HeadMark | None,
    head: HeadMark | None,
    anchor: HeadMark | None,
    at_anchor: HeadMark | None,
) -> ChainFault | None:
    if last is None:
        if head is None and anchor is None:
            return ChainFault(Fault.MISSING_CHAIN, None, "no records and no head")
        seen = anchor or head
        assert seen is not None
        return ChainFault(
            Fault.MISSING_CHAIN, None, f"no records, but {seen.seq} were recorded before"
        )
    if head is None:
        return ChainFault(Fault.HEAD_MISMATCH, None, "the head row is missing")
    if head.seq > last.seq:
        return ChainFault(
            Fault.TRUNCATED, None, f"the head says seq {head.seq}, the chain ends at {last.seq}"
        )
    if head != last:
        return ChainFault(
            Fault.HEAD_MISMATCH,
            None,
            f"head (seq {head.seq}, {head.hash[:16]}…) is not the last record "
            f"(seq {last.seq}, {last.hash[:16]}…)",
        )
    if anchor is None:
        return None
    if at_anchor is None:
        return ChainFault(
            Fault.TRUNCATED,
            None,
            f"the signed checkpoint saw seq {anchor.seq}, the chain ends at {last.seq}",
        )
    if at_anchor.hash != anchor.hash:
        return ChainFault(
            Fault.REWRITTEN,
            seq_row_key(anchor.seq),
            f"the signed checkpoint holds {anchor.hash[:16]}…, the chain {at_anchor.hash[:16]}…: "
            "the chain was rewritten up to here",
        )
    return None
