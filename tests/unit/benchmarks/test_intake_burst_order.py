"""The open loop's steady mix (benchmarks/intake_burst.py): new images arrive at a quarter of
the event rate throughout, not mostly at the start as a global shuffle offers them."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from intake_burst import new_images_per_second, steady

RATE = 50.0


def _events(images: int) -> list[list[tuple[str, dict[str, Any]]]]:
    return [
        [
            ("westeurope", {"id": f"{i}-{n}", "data": {"target": {"digest": f"sha256:{i:064x}"}}})
            for n in range(4)
        ]
        for i in range(images)
    ]


def test_every_event_is_offered_once_and_each_image_within_its_window() -> None:
    per_image = _events(251)
    work = steady(per_image, 2 * RATE, random.Random(7))
    assert sorted(e["id"] for _, e in work) == sorted(e["id"] for ev in per_image for _, e in ev)
    position = {e["id"]: i for i, (_, e) in enumerate(work)}
    for i, events in enumerate(per_image):
        spots = [position[e["id"]] for _, e in events]
        # its four events fall around its slot 4 i, within the window (100 events = 2 s)
        assert max(spots) - min(spots) <= 2 * RATE + 8
        assert abs(min(spots) - 4 * i) <= 2 * RATE + 8


def test_new_images_arrive_steadily_not_front_loaded() -> None:
    per_image = _events(251)
    mixed = steady(per_image, 2 * RATE, random.Random(7))[:1000]
    shuffled = [e for events in per_image for e in events]
    random.Random(7).shuffle(shuffled)
    shuffled = shuffled[:1000]
    mean, peak = new_images_per_second(mixed, RATE)
    s_mean, s_peak = new_images_per_second(shuffled, RATE)
    assert 12 <= mean <= 13 and 12 <= s_mean <= 13  # the same images, the same average
    assert peak <= 2 * RATE / 4  # at most twice the average in any second
    assert s_peak >= 3 * RATE / 4 * 0.8  # the shuffle offers about three times it at first
