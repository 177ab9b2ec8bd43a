"""When follow-ups may reach people: working hours in each user's own time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class WorkingHours:
    days: frozenset[int]
    start: time
    end: time
    always: bool = False

    @classmethod
    def parse(cls, spec: str) -> WorkingHours:
        """'always', or days and hours such as 'Mon-Fri 08:00-18:00' or 'Mon,Wed,Fri 09:00-17:00'."""
        if spec.strip().lower() == "always":
            return cls(frozenset(range(7)), time(0), time(0), always=True)
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"working hours {spec!r}: expected 'always' or like 'Mon-Fri 08:00-18:00'")
        days: set[int] = set()
        for part in match["days"].replace(" ", "").lower().split(","):
            first, _, last = part.partition("-")
            if first[:3] not in DAYS or (last and last[:3] not in DAYS):
                raise ValueError(f"working hours {spec!r}: unknown day in {part!r}")
            a = DAYS.index(first[:3])
            b = DAYS.index(last[:3]) if last else a
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        start, end = (time.fromisoformat(f"{t:0>5}") for t in (match["start"], match["end"]))
        if start >= end:
            raise ValueError(f"working hours {spec!r}: the day must start before it ends")
        return cls(frozenset(days), start, end)

    def next_open(self, when: datetime, tz: ZoneInfo) -> datetime:
        """``when`` if it falls in working hours in ``tz``, else the next opening, in UTC."""
        if self.always:
            return when
        local = when.astimezone(tz)
        if local.weekday() in self.days and self.start <= local.time() < self.end:
            return when
        day = local.date()
        if local.weekday() in self.days and local.time() < self.start:
            return _at(day, self.start, tz)
        for _ in range(7):
            day += timedelta(days=1)
            if day.weekday() in self.days:
                return _at(day, self.start, tz)
        raise AssertionError("working hours with no working day")  # parse() never builds one


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def zone(name: str | None, default: str) -> ZoneInfo:
    """The user's zone if it is a real IANA name, else the deployment's default."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
