"""JSON from outsiders within limits: hostile depth and size are a ValueError, never a
RecursionError; ordinary JSON parses as ``json.loads`` does."""

from __future__ import annotations

import json
import time

import pytest

from shared.domain import bounded_json
from shared.domain.bounded_json import JsonLimitError, depth_of, depth_of_text, loads


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[{{{{"}', 1),  # brackets in strings do not count
        (b'{"a": "\\"[[[", "b": "\\\\", "c": [[]]}', 3),  # escaped quotes and backslashes
    ],
)
def test_depth_of_text(text: bytes, depth: int) -> None:
    assert depth_of_text(text) == depth
    assert depth_of(json.loads(text)) == depth


def test_ordinary_json_parses_as_json_does() -> None:
    doc = {"id": "e1", "data": {"target": {"tags": ["a", "b"]}, "n": 1.5, "s": "ü\u2028"}}
    assert loads(json.dumps(doc)) == doc
    assert loads(json.dumps(doc).encode()) == doc


@pytest.mark.parametrize("where", ["top", "data"])
def test_a_body_nested_a_thousand_levels_is_a_value_error(where: str) -> None:
    deep = "[" * 1500 + "]" * 1500
    body = deep if where == "top" else '{"id": "e1", "data": ' + deep + "}"
    with pytest.raises(RecursionError):
        json.loads("[" * 100_000 + "]" * 100_000)  # what the standard library does
    with pytest.raises(JsonLimitError, match="nested more than 64 levels"):
        loads(body)
    assert issubclass(JsonLimitError, ValueError)


def test_size_is_checked_before_anything_is_parsed() -> None:
    with pytest.raises(JsonLimitError, match="bytes"):
        loads(b'"' + b"a" * 2000 + b'"', max_bytes=1000)


def test_hostile_inputs_are_linear() -> None:
    started = time.monotonic()
    for body in (
        b'"' + b'\\"' * 400_000,  # one endless string of escaped quotes
        b"[" * 1_000_000,
        b'"[' * 500_000,
    ):
        with pytest.raises((JsonLimitError, json.JSONDecodeError)):
            loads(body, max_bytes=2_000_000)
    assert time.monotonic() - started < 5


def test_depth_of_a_parsed_value_stops_past_the_limit() -> None:
    value: list[object] = []
    for _ in range(10_000):
        value = [value]
    assert depth_of(value, limit=bounded_json.MAX_DEPTH) == bounded_json.MAX_DEPTH + 1


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16", "utf-32"])
def test_a_deep_body_in_another_encoding_is_not_parsed(codec: str) -> None:
    # json.loads(bytes) guesses UTF-16/32; in UTF-16 "\u2200" holds a 0x22 byte, which a
    # byte scanner takes for a quote: the brackets after it looked like string content.
    body = ('["\u2200",' + "[" * 5000 + "]" * 5000 + "]").encode(codec)
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        bounded_json.loads(body)


def test_a_utf8_body_with_a_bom_still_parses() -> None:
    assert bounded_json.loads(b'\xef\xbb\xbf{"a": [1]}') == {"a": [1]}
