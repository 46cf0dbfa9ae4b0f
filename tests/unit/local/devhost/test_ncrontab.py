from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.local.devhost.ncrontab import Schedule


def test_every_five_minutes_at_second_zero() -> None:
    s = Schedule.parse("0 */5 * * * *")
    t = datetime(2026, 1, 1, 10, 2, 30, tzinfo=UTC)
    assert s.next_after(t) == datetime(2026, 1, 1, 10, 5, 0, tzinfo=UTC)


def test_weekday_names_and_ranges() -> None:
    s = Schedule.parse("0 30 9 * * Mon-Fri")
    saturday = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)  # a Saturday
    assert s.next_after(saturday) == datetime(2026, 11, 23, 9, 30, 0, tzinfo=UTC)


def test_every_second() -> None:
    s = Schedule.parse("* * * * * *")
    t = datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    assert s.next_after(t) == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["* * * * *", "61 * * * * *", "*/0 * * * * *", "0 0 0 31 2-1 *"])
def test_malformed_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Schedule.parse(bad)
