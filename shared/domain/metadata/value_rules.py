"""Rules every metadata value obeys, and the error type the contract's own validators raise."""

from __future__ import annotations

import unicodedata

from pydantic_core import PydanticCustomError

CONTRACT_ERROR_TYPE = "clearance_contract"

# Control (Cc), invisible format (Cf: bidi overrides, zero-width characters), surrogate (Cs) and
# line/paragraph separator (Zl, Zp) characters: they hide or rearrange text a reviewer reads.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def first_control_character(text: str) -> int | None:
    """Index of the first forbidden character in ``text``, or None when it is clean."""
    for index, char in enumerate(text):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return index
    return None


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with anything unprintable escaped: safe to display."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in cut)


def contract_error(reason: str) -> PydanticCustomError:
    """A validation error whose ``reason`` completes a sentence such as 'The canary steps ...'."""
    return PydanticCustomError(CONTRACT_ERROR_TYPE, "{reason}", {"reason": reason})
