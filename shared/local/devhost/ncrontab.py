"""NCRONTAB schedules as Azure Functions timer triggers use them (six fields, seconds first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES = {
    4: {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    5: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}


def _field(text: str, idx: int) -> frozenset[int]:
    lo, hi = _RANGES[idx]
    names = _NAMES.get(idx, {})
    values: set[int] = set()
    for part in text.lower().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {text!r}")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(names.get(a, a)), int(names.get(b, b))
        else:
            start = int(names.get(base, base))
            end = hi if step_text else start
        if not (lo <= start <= hi and lo <= end <= hi and start <= end):
            raise ValueError(f"{text!r} out of range {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    fields: tuple[frozenset[int], ...]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ValueError(f"NCRONTAB needs six fields (second first): {expression!r}")
        return cls(tuple(_field(p, i) for i, p in enumerate(parts)))

    def matches(self, t: datetime) -> bool:
        sec, minute, hour, day, month, dow = self.fields
        weekday = (t.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        return (
            t.second in sec
            and t.minute in minute
            and t.hour in hour
            and t.day in day
            and t.month in month
            and weekday in dow
        )

    def next_after(self, t: datetime) -> datetime:
        """The first time strictly after ``t`` (whole seconds) that the schedule fires."""
        sec, minute, hour, day, month, dow = self.fields
        c = t.replace(microsecond=0) + timedelta(seconds=1)
        limit = c + timedelta(days=366 * 5)
        while c < limit:
            if c.month not in month or c.day not in day or (c.weekday() + 1) % 7 not in dow:
                c = (c + timedelta(days=1)).replace(hour=0, minute=0, second=0)
            elif c.hour not in hour:
                c = (c + timedelta(hours=1)).replace(minute=0, second=0)
            elif c.minute not in minute:
                c = (c + timedelta(minutes=1)).replace(second=0)
            elif c.second not in sec:
                c += timedelta(seconds=1)
            else:
                return c
        raise ValueError("schedule never fires within five years")
