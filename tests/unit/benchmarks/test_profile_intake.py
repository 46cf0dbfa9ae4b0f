"""The grouping behind benchmarks/profile_intake.py: py-spy's collapsed stacks to shares."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from profile_intake import group_of, shares, top_functions

HANDLER = "<module> (loop.py:24);handle (shared/services/intake/handlers.py:534)"
SEND = f"{HANDLER};send (core/pipeline/_base.py:88)"
RAW = "\n".join(
    [
        f"{SEND};parse_headers (http/client.py:243) 7",
        f"{SEND} 2",
        f"{HANDLER} 1",
        "garbage line without a count",
        " 5",
    ]
)


def test_self_and_inclusive_shares_per_group() -> None:
    total, own, through = shares(RAW)
    assert total == 10
    assert own[group_of("x (http/client.py:1)")] == 7
    assert own["azure-core pipeline"] == 2
    assert own["clearance (shared/)"] == 1
    assert through["clearance (shared/)"] == 10  # every sample passes through the handler
    assert through["azure-core pipeline"] == 9


def test_a_frame_of_no_known_library_is_other() -> None:
    assert group_of("uuid1 (uuid.py:700)").startswith("other")
    assert group_of("readinto (socket.py:706)") == "ssl + socket"


def test_the_busiest_innermost_frames_of_one_group() -> None:
    raw = "\n".join([RAW, f"{SEND};urlparse (urllib/parse.py:3) 4", f"{SEND} 3"])
    assert top_functions(raw, "azure-core pipeline") == [("send (core/pipeline/_base.py:88)", 5)]
    assert top_functions(raw, "urllib.parse") == [("urlparse (urllib/parse.py:3)", 4)]
    assert top_functions(raw, "json") == []
