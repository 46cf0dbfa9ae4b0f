"""Evidence exports read back exactly; a structural edit is a format error, never a crash."""

from __future__ import annotations

import pytest

from shared.domain.lineage.evidence import (
    EvidenceFormatError,
    chain_line,
    read_evidence,
    record_line,
    region_line,
)


def test_an_export_reads_back() -> None:
    body = '{"prev":"' + "0" * 64 + '","record":{},"seq":1,"v":1}'
    text = region_line("westeurope", [("heads/a", b"\x00\x01")]) + chain_line("a" * 64, 1)
    text += record_line("h" * 64, body)
    (region,) = list(read_evidence(text.splitlines(keepends=True)))
    assert region.blobs == [("heads/a", b"\x00\x01")]
    (link,) = region.chains[0].links
    assert link.body == body and link.stored_hash == "h" * 64 and link.stored_prev == "0" * 64


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json\n",
        '{"chain":"' + "a" * 64 + '"}\n',
        '{"evidence":2,"region":"w","blobs":[]}\n',
        '{"evidence":1,"region":"w","blobs":[{"name":"x","data":"%%"}]}\n',
        '{"evidence":1,"region":"w","blobs":[]}\n' + "h" * 64 + " {}\n",
        "[" * 100_000 + "\n",
    ],
)
def test_malformed_exports_are_format_errors(text: str) -> None:
    with pytest.raises(EvidenceFormatError):
        list(read_evidence(text.splitlines(keepends=True)))
