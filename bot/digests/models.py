"""The digest's vocabulary: schedules and the periods they cut time into, the figures it counts, and why an item
needs the lead.

Cadences are stored as their string values (``digest_schedules.cadence``); figures and reasons are the keys of
bot/content/digest.yaml, so none of the values may be renamed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

TREND_PERIODS = 8
"""How many periods the trend line goes back."""
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OUTBOX_PURPOSE = "digest"
"""Why a digest is in the outbox (``outbox.purpose``)."""


class Cadence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Schedule:
    cadence: Cadence
    weekday: int  # 0 = Monday (weekly only)
    hour: int
    tz: str

    def period_ending_by(self, now: datetime) -> tuple[datetime, datetime]:
        """The latest complete period at ``now``: (start, end) in UTC, computed in local time (DST-safe)."""
        tzinfo = ZoneInfo(self.tz)
        local = now.astimezone(tzinfo)
        end_local = local.replace(hour=self.hour, minute=0, second=0, microsecond=0)
        weekly = self.cadence == Cadence.WEEKLY
        if weekly:
            end_local -= timedelta(days=(end_local.weekday() - self.weekday) % 7)
        if end_local > local:
            end_local -= timedelta(days=7 if weekly else 1)
        start_local = end_local - timedelta(days=7 if weekly else 1)
        # rebuild with the zone so each side has its own UTC offset across a DST change
        end = end_local.replace(tzinfo=None).replace(tzinfo=tzinfo)
        start = start_local.replace(tzinfo=None).replace(tzinfo=tzinfo)
        return start.astimezone(UTC), end.astimezone(UTC)

    def previous(self, start: datetime) -> tuple[datetime, datetime]:
        """The period just before the one starting at ``start`` (it ends exactly there)."""
        return self.period_ending_by(start)


DEFAULT_SCHEDULE = Schedule(Cadence.WEEKLY, 0, 9, "Europe/London")
"""A lead's schedule until they set one (in SHARECHECK_DEFAULT_TZ rather than this zone)."""


class Figure(StrEnum):
    """A count in the digest (its label in bot/content/digest.yaml ``figures``, shown in that order)."""

    COMPLETED = "completed"
    SHARE = "share"
    """A completed check's decision (``checks.decision``), as are the next two."""
    NOT_SHARE = "not_share"
    SEEK_ADVICE = "seek_advice"
    IMMEDIATE_RISK = "immediate_risk"
    CONFIRMED = "confirmed"
    OUTSTANDING = "outstanding"
    OVERDUE = "overdue"
    ESCALATED = "escalated"
    CLARIFICATION = "clarification"


class NeedsYou(StrEnum):
    """Why a case needs the lead now (its text in bot/content/digest.yaml ``needs_you``), most urgent first: the
    digest lists them in this order. The first five are the follow-up's state of the same name."""

    ESCALATED = "escalated"
    NOT_RECEIVED = "not_received"
    COULD_NOT_CONFIRM = "could_not_confirm"
    UNDELIVERABLE = "undeliverable"
    OVERDUE = "overdue"
    CLARIFICATION = "clarification"
    REQUESTER_NOT_TOLD = "requester_not_told"


@dataclass
class Figures:
    """What one period counted in a lead's scope."""

    counts: Counter[str] = field(default_factory=Counter)
    """By Figure."""
    unsure: Counter[str] = field(default_factory=Counter)
    """By the rule practitioners were unsure about."""
    worries: Counter[str] = field(default_factory=Counter)
    """By the myth-buster shown."""
    unconfirmed: Counter[str] = field(default_factory=Counter)
    """By the statement left unticked before sending."""
