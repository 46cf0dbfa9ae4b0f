"""Change windows and freezes: half-open windows, local wall time across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from shared.domain.deploy.windows import ChangeWindows, Freeze, WeeklyWindow

AMS = "Europe/Amsterdam"


def weekdays(start: str = "09:00", end: str = "17:00", zone: str = AMS) -> ChangeWindows:
    return ChangeWindows(
        time_zone=zone,
        weekly=(WeeklyWindow(days=("mon", "tue", "wed", "thu", "fri"), start=start, end=end),),
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_exactly_at_opening_and_closed_exactly_at_closing() -> None:
    w = weekdays()
    # 2026-12-02 is a Wednesday; Amsterdam is UTC+1 in winter
    assert w.is_open(utc(2026, 12, 2, 8, 0))  # 09:00 local: open
    assert not w.is_open(utc(2026, 12, 2, 7, 59, 59))
    assert w.is_open(utc(2026, 12, 2, 15, 59, 59))
    assert not w.is_open(utc(2026, 12, 2, 16, 0))  # 17:00 local: closed
    assert w.next_opening(utc(2026, 12, 2, 16, 0)) == utc(2026, 12, 3, 8, 0)


def test_friday_evening_waits_for_monday_morning() -> None:
    assert weekdays().next_opening(utc(2026, 12, 4, 17, 0)) == utc(2026, 12, 7, 8, 0)


def test_the_window_follows_the_wall_clock_across_daylight_saving() -> None:
    w = weekdays()
    # Spring forward: Sunday 2026-03-29; Monday opens 09:00 CEST = 07:00 UTC
    assert w.next_opening(utc(2026, 3, 27, 17, 0)) == utc(2026, 3, 30, 7, 0)
    # Fall back: Sunday 2026-10-25; Monday opens 09:00 CET = 08:00 UTC
    assert w.next_opening(utc(2026, 10, 23, 16, 0)) == utc(2026, 10, 26, 8, 0)
    assert not w.is_open(utc(2026, 10, 26, 7, 59))


def test_a_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    w = ChangeWindows(
        time_zone=AMS, weekly=(WeeklyWindow(days=("sun",), start="02:30", end="05:00"),)
    )
    # 2026-03-29 02:00 CET -> 03:00 CEST at 01:00 UTC: 02:30 never shows; open from 03:00 CEST
    assert w.next_opening(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)
    skipped = ChangeWindows(
        time_zone=AMS, weekly=(WeeklyWindow(days=("sun",), start="02:00", end="03:00"),)
    )
    # the whole window is skipped that Sunday: the next one is a week later
    assert skipped.next_opening(utc(2026, 3, 28, 12, 0)) == utc(2026, 4, 5, 0, 0)


def test_a_window_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    w = ChangeWindows(
        time_zone=AMS, weekly=(WeeklyWindow(days=("sun",), start="02:30", end="04:00"),)
    )
    # 2026-10-25: 02:30 CEST (00:30 UTC) comes first, then 02:30 CET
    assert w.next_opening(utc(2026, 10, 24, 12, 0)) == utc(2026, 10, 25, 0, 30)


def test_a_freeze_closes_whole_local_days_inclusive() -> None:
    w = weekdays().model_copy(
        update={
            "freezes": (Freeze(start=date(2026, 12, 21), end=date(2027, 1, 1), reason="year end"),)
        }
    )
    assert not w.is_open(utc(2026, 12, 21, 10, 0))
    assert w.freeze_on(utc(2026, 12, 21, 10, 0)) is not None
    # 2027-01-01 23:30 local is still frozen; next opening is Monday 2027-01-04 09:00 local
    assert w.next_opening(utc(2026, 12, 18, 17, 0)) == utc(2027, 1, 4, 8, 0)


def test_no_weekly_windows_means_open_except_frozen() -> None:
    w = ChangeWindows(
        time_zone="America/New_York",
        freezes=(Freeze(start=date(2026, 11, 26), end=date(2026, 11, 26)),),
    )
    assert w.is_open(utc(2026, 11, 25, 12, 0))
    assert not w.is_open(utc(2026, 11, 26, 12, 0))
    # the freeze ends at local midnight (05:00 UTC)
    assert w.next_opening(utc(2026, 11, 26, 12, 0)) == utc(2026, 11, 27, 5, 0)


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"weekly": [{"days": ["mon"], "start": "17:00", "end": "09:00"}]}, "end must be after"),
        ({"weekly": [{"days": ["mon"], "start": "25:00", "end": "26:00"}]}, "pattern"),
        ({"weekly": [{"days": ["mon", "mon"], "start": "09:00", "end": "10:00"}]}, "repeat"),
        ({"freezes": [{"start": "2026-12-02", "end": "2026-12-01"}]}, "end before start"),
    ],
)
def test_bad_windows_are_refused_with_a_clear_error(doc: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ChangeWindows.model_validate(doc)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        weekdays().is_open(datetime(2026, 12, 2, 9, 0))
