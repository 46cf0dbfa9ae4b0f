"""The lineage API's time parameters (``served --at``, ``records --since/--until``) from
hostile callers: a usage error (400), never an unanswered exception (500)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.errors import InputError
from shared.services.lineage.http_api import parse_time


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC: OverflowError
        "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
        "not a time",
        "",
        "2026-13-01T00:00:00Z",
    ],
)
def test_hostile_times_are_a_usage_error(raw: str) -> None:
    with pytest.raises(InputError, match="ISO 8601"):
        parse_time(raw, "at")


def test_a_time_is_read_in_utc() -> None:
    assert parse_time("2026-03-01T13:00:00+01:00", "at") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert parse_time("2026-03-01T12:00:00", "at") == datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("limit", ["\u00b2", "\u0661\u0660", "1e3", "-1"])
def test_a_limit_that_is_not_ascii_digits_is_a_400_not_a_500(limit: str) -> None:
    # "²".isdigit() is True but int("²") raises ValueError, which the API does not answer.
    from shared.services.lineage.http_api import answer

    got = answer("live", None, {"limit": limit}, None, "westeurope")  # type: ignore[arg-type]
    assert got.status == 400
