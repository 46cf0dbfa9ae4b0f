"""JSON from outsiders, read within limits: size first, then nesting depth, then ``json``.

``json.loads`` recurses once per nesting level: a body nested ~1,000 levels deep raises
``RecursionError`` (not a ``ValueError``), which surfaces as a dropped connection or a 500 that
Event Grid and Service Bus retry until dead-lettering. The depth is counted here without
recursion, before parsing, so a hostile body is a clear ``JsonLimitError`` (a ``ValueError``,
which every caller already answers with 400 or records as a rejection).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 64  # System.Text.Json's default, what the Azure Functions host itself accepts
MAX_BYTES = 1024 * 1024  # an Event Grid event is at most 1 MB
UNBOUNDED_SIZE = 2**63  # for documents whose size is bounded elsewhere: depth only
_SPECIAL = re.compile(rb'["\\\[\]{}]')
_QUOTE, _BACKSLASH, _OPEN = ord('"'), ord("\\"), (ord("["), ord("{"))


class JsonLimitError(ValueError):
    """The document is larger or nested deeper than the reader accepts."""


def depth_of_text(data: bytes, limit: int | None = None) -> int:
    """The deepest nesting of arrays/objects in a JSON text (brackets in strings do not count).

    One linear pass over the structural characters: no backtracking, no recursion; it stops
    as soon as the depth passes ``limit``."""
    depth = deepest = 0
    in_string, escaped = False, -1
    for match in _SPECIAL.finditer(data):
        pos = match.start()
        char = data[pos]
        if in_string:
            if pos == escaped:
                continue
            if char == _BACKSLASH:
                escaped = pos + 1
            elif char == _QUOTE:
                in_string = False
        elif char == _QUOTE:
            in_string = True
        elif char in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
            if limit is not None and deepest > limit:
                return deepest
        elif char != _BACKSLASH:
            depth -= 1
    return deepest


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """The nesting depth of an already parsed value, without recursion; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def loads(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` within limits; raises ``JsonLimitError`` or ``json.JSONDecodeError``.

    Bytes are read as UTF-8 (RFC 8259), never guessed as UTF-16/32 as ``json.loads`` would:
    the depth scan reads ASCII brackets and quotes, which only UTF-8 never hides inside
    another character. Non-UTF-8 bytes are a ``UnicodeDecodeError`` (a ``ValueError``)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise JsonLimitError(f"the JSON body is {len(raw)} bytes; at most {max_bytes} are read")
    text = data if isinstance(data, str) else raw.decode("utf-8-sig")
    if depth_of_text(raw, max_depth) > max_depth:
        raise JsonLimitError(f"the JSON body is nested more than {max_depth} levels deep")
    return json.loads(text)
