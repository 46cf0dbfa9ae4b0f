"""Change windows and freezes of a stage: when a rollout may start. Pure.

Weekly windows are wall-clock times in the region's IANA time zone (``Europe/Amsterdam``);
a window is half-open: open exactly at ``start``, closed exactly at ``end``. Dated freezes
close whole local days (inclusive). Across a daylight-saving change the wall clock decides:
a window 09:00-17:00 opens at 09:00 local on both sides of the change; a window that starts
inside the skipped hour opens when the clock first shows a time inside it; a window whose
whole span is skipped does not open that day. Without weekly windows a stage is always open
(except during freezes).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"
# How far ahead an opening is searched (a freeze over the year end is a few weeks).
HORIZON_DAYS = 400


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(value: str) -> time:
    if value == "24:00":
        return time.max
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class WeeklyWindow(_Frozen):
    days: tuple[Weekday, ...] = Field(min_length=1, max_length=7)
    start: Annotated[str, Field(pattern=_CLOCK)]
    end: Annotated[str, Field(pattern=_CLOCK)]

    @model_validator(mode="after")
    def _ordered(self) -> WeeklyWindow:
        if self.start == "24:00" or _clock(self.end) <= _clock(self.start):
            raise ValueError(
                f"window {self.start}-{self.end}: end must be after start on the same day "
                "(split a window over midnight into two)"
            )
        if len(set(self.days)) != len(self.days):
            raise ValueError("window days repeat")
        return self

    def contains(self, local: datetime) -> bool:
        if WEEKDAYS[local.weekday()] not in self.days:
            return False
        wall = local.time().replace(tzinfo=None)
        return _clock(self.start) <= wall and (self.end == "24:00" or wall < _clock(self.end))


class Freeze(_Frozen):
    """Local calendar days ``start``..``end`` (inclusive) on which nothing starts."""

    start: date
    end: date
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.end < self.start:
            raise ValueError(f"freeze {self.start}..{self.end}: end before start")
        return self


class ChangeWindows(_Frozen):
    time_zone: str = "UTC"
    weekly: tuple[WeeklyWindow, ...] = Field(default=(), max_length=50)
    freezes: tuple[Freeze, ...] = Field(default=(), max_length=100)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def unrestricted(self) -> bool:
        return not self.weekly and not self.freezes

    def local(self, at: datetime) -> datetime:
        return _aware(at).astimezone(self.zone)

    def freeze_on(self, at: datetime) -> Freeze | None:
        day = self.local(at).date()
        return next((f for f in self.freezes if f.start <= day <= f.end), None)

    def is_open(self, at: datetime) -> bool:
        if self.freeze_on(at) is not None:
            return False
        if not self.weekly:
            return True
        local = self.local(at)
        return any(w.contains(local) for w in self.weekly)

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open; else the first instant after it when a rollout may start
        (UTC); None when nothing opens within ``HORIZON_DAYS``."""
        at = _aware(at).astimezone(UTC)
        if self.is_open(at):
            return at
        first = self.local(at).date()
        for offset in range(HORIZON_DAYS + 1):
            day = first + timedelta(days=offset)
            starts = sorted({w.start for w in self.weekly}) if self.weekly else ["00:00"]
            found = [
                t
                for t in (self._opening_on(day, s, at) for s in starts)
                if t is not None and t > at
            ]
            if found:
                return min(found)
        return None

    def _opening_on(self, day: date, start: str, after: datetime) -> datetime | None:
        """The first instant of ``day`` (local) at or after wall time ``start`` that is open."""
        zone = self.zone
        wall = datetime.combine(day, _clock(start))
        early = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        late = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        lo, hi = min(early, late), max(early, late)
        if lo.astimezone(zone).replace(tzinfo=None) == wall:
            return lo if lo > after and self.is_open(lo) else None
        # The wall time does not exist (the clock skips it): the window opens at the first
        # open instant after the change, which lies between the two readings.
        probe = lo
        while probe <= hi:
            if probe > after and self.is_open(probe):
                return probe
            probe += timedelta(minutes=1)
        return None

    def describe(self, at: datetime) -> str:
        """``2026-03-30 09:00 Europe/Amsterdam (07:00 UTC)``."""
        local = self.local(at)
        return f"{local:%Y-%m-%d %H:%M} {self.time_zone} ({_aware(at).astimezone(UTC):%H:%M} UTC)"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("change windows need time-zone-aware instants")
    return at
