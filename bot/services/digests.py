"""Digests for safeguarding leads: what happened in their scope this period, what needs them now.

Scope decides everything a lead sees: their own practitioners, channels or whole workspace, and, for
the default lead, practitioners who have no lead. Every query is limited to the lead's platform and
workspace, so a lead never sees another tenant's case references.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Check, DigestSchedule, DigestSent, FollowUp, LeadAssignment, OutboxMessage
from bot.services.leads import LeadDirectory
from bot.settings import Settings
from dialogs.content import Pack
from dialogs.messages import Digest, DigestFigure, DigestItem

CONTENT_FILE = Path(__file__).parent.parent / "content" / "digest.yaml"
TREND_PERIODS = 8
MAX_ITEMS = 15
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class DigestContent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    title: str
    period: str
    trend_label: str
    empty_text: str
    worries_label: str
    unconfirmed_label: str
    """An unsure-figure line for a statement left unticked before sending; {item} is the statement."""
    figures: dict[str, str]
    needs_you: dict[str, str]


@cache
def digest_content() -> DigestContent:
    return DigestContent.model_validate(yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Schedule:
    cadence: str  # daily or weekly
    weekday: int  # 0 = Monday (weekly only)
    hour: int
    tz: str

    def period_ending_by(self, now: datetime) -> tuple[datetime, datetime]:
        """The latest complete period at ``now``: (start, end) in UTC, computed in local time (DST-safe)."""
        tzinfo = ZoneInfo(self.tz)
        local = now.astimezone(tzinfo)
        end_local = local.replace(hour=self.hour, minute=0, second=0, microsecond=0)
        if self.cadence == "weekly":
            end_local -= timedelta(days=(end_local.weekday() - self.weekday) % 7)
        if end_local > local:
            end_local -= timedelta(days=7 if self.cadence == "weekly" else 1)
        start_local = end_local - timedelta(days=7 if self.cadence == "weekly" else 1)
        # rebuild with the zone so each side has its own UTC offset across a DST change
        end = end_local.replace(tzinfo=None).replace(tzinfo=tzinfo)
        start = start_local.replace(tzinfo=None).replace(tzinfo=tzinfo)
        return start.astimezone(UTC), end.astimezone(UTC)

    def previous(self, start: datetime) -> tuple[datetime, datetime]:
        """The period just before the one starting at ``start`` (it ends exactly there)."""
        return self.period_ending_by(start)


DEFAULT_SCHEDULE = Schedule("weekly", 0, 9, "Europe/London")


class DigestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        leads: LeadDirectory | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._leads = leads or LeadDirectory(sessions, settings.default_lead_refs)
        self.content = digest_content()

    # --- who sees what ----------------------------------------------------------------------

    async def scope(self, session: AsyncSession, platform: str, workspace_id: str, lead_id: str) -> ColumnElement[bool]:
        """A condition on ``Check`` selecting exactly the checks this lead may see."""
        rows = (
            await session.execute(
                select(LeadAssignment.lead_id, LeadAssignment.scope, LeadAssignment.scope_value).where(
                    LeadAssignment.platform == platform, LeadAssignment.workspace_id == workspace_id
                )
            )
        ).all()
        mine = [(s, v) for lead, s, v in rows if lead == lead_id]
        parts: list[ColumnElement[bool]] = []
        if any(s == "workspace" for s, _ in mine):
            parts.append(Check.workspace_id == workspace_id)
        users = [v for s, v in mine if s == "user"]
        channels = [v for s, v in mine if s == "channel"]
        if users:
            parts.append(Check.user_id.in_(users))
        if channels:
            parts.append(Check.channel_id.in_(channels))
        default = await self._leads.default_for(session, platform, workspace_id)
        if default == lead_id and not any(s == "workspace" for _, s, _ in rows):
            # the default lead covers practitioners nobody else leads
            led_users = [v for _, s, v in rows if s == "user"]
            led_channels = [v for _, s, v in rows if s == "channel"]
            unled = and_(
                not_(Check.user_id.in_(led_users)) if led_users else true(),
                or_(Check.channel_id.is_(None), not_(Check.channel_id.in_(led_channels))) if led_channels else true(),
            )
            parts.append(unled)
        base = and_(Check.platform == platform, Check.workspace_id == workspace_id)
        return and_(base, or_(*parts)) if parts else false()

    async def is_lead(self, platform: str, workspace_id: str, user_id: str) -> bool:
        async with self._sessions() as session:
            if await self._leads.default_for(session, platform, workspace_id) == user_id:
                return True
            found = await session.scalar(
                select(LeadAssignment.id)
                .where(
                    LeadAssignment.platform == platform,
                    LeadAssignment.workspace_id == workspace_id,
                    LeadAssignment.lead_id == user_id,
                )
                .limit(1)
            )
        return found is not None

    # --- schedules ----------------------------------------------------------------------------

    async def schedule(self, platform: str, workspace_id: str, lead_id: str) -> Schedule:
        async with self._sessions() as session:
            row = await session.get(DigestSchedule, (platform, workspace_id, lead_id))
        if row is None:
            return Schedule(
                DEFAULT_SCHEDULE.cadence,
                DEFAULT_SCHEDULE.weekday,
                DEFAULT_SCHEDULE.hour,
                self._settings.sharecheck_default_tz,
            )
        return Schedule(row.cadence, row.weekday, row.hour, row.tz)

    async def set_schedule(self, platform: str, workspace_id: str, lead_id: str, schedule: Schedule) -> None:
        if (
            schedule.cadence not in ("daily", "weekly")
            or not 0 <= schedule.hour <= 23
            or not 0 <= schedule.weekday <= 6
        ):
            raise ValueError("a schedule is daily or weekly, an hour 0-23 and (weekly) a day 0-6")
        ZoneInfo(schedule.tz)  # raises for an unknown zone
        async with self._sessions.begin() as session:
            row = await session.get(DigestSchedule, (platform, workspace_id, lead_id), with_for_update=True)
            values = {
                "cadence": schedule.cadence,
                "weekday": schedule.weekday,
                "hour": schedule.hour,
                "tz": schedule.tz,
                "updated_at": self._clock.now(),
            }
            if row is None:
                session.add(DigestSchedule(platform=platform, workspace_id=workspace_id, lead_id=lead_id, **values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)

    # --- building -----------------------------------------------------------------------------

    async def build(
        self,
        platform: str,
        workspace_id: str,
        lead_id: str,
        pack: Pack,
        now: datetime | None = None,
        schedule: Schedule | None = None,
    ) -> Digest:
        """The digest of the latest complete period at ``now`` (what the scheduler sends)."""
        now = now or self._clock.now()
        schedule = schedule or await self.schedule(platform, workspace_id, lead_id)
        start, end = schedule.period_ending_by(now)
        return await self.build_period(platform, workspace_id, lead_id, pack, schedule, start, end)

    async def build_so_far(self, platform: str, workspace_id: str, lead_id: str, pack: Pack) -> Digest:
        """A digest asked for now: the period running now up to this moment, compared with the last one.

        The last complete period would leave out what happened since, including what needs the lead today.
        """
        now = self._clock.now()
        schedule = await self.schedule(platform, workspace_id, lead_id)
        _, current_start = schedule.period_ending_by(now)
        return await self.build_period(platform, workspace_id, lead_id, pack, schedule, current_start, now)

    async def build_period(
        self,
        platform: str,
        workspace_id: str,
        lead_id: str,
        pack: Pack,
        schedule: Schedule,
        start: datetime,
        end: datetime,
    ) -> Digest:
        c = self.content
        async with self._sessions() as session:
            in_scope = await self.scope(session, platform, workspace_id, lead_id)
            now_figures = await self._figures(session, in_scope, start, end)
            prev_start, prev_end = schedule.previous(start)
            before = await self._figures(session, in_scope, prev_start, prev_end)
            needs = await self._needs_you(session, in_scope, end)
            trend = []
            s, e = start, end
            for _ in range(TREND_PERIODS):
                trend.append(await self._count_completed(session, in_scope, s, e))
                s, e = schedule.previous(s)
        titles = pack.rule_titles()
        figures = tuple(
            DigestFigure(label=c.figures[key], value=now_figures.counts.get(key, 0), previous=before.counts.get(key, 0))
            for key in c.figures
        )
        unsure = tuple(
            DigestFigure(label=titles.get(rule, rule), value=n, previous=before.unsure.get(rule, 0))
            for rule, n in now_figures.unsure.most_common(3)
        ) + tuple(
            # statements left unticked before sending: where practitioners could not confirm a share was right
            DigestFigure(label=c.unconfirmed_label.format(item=item), value=n, previous=before.unconfirmed.get(item, 0))
            for item, n in now_figures.unconfirmed.most_common(3)
        )
        myths = {m.id: m.title for m in pack.myths}
        worries = tuple(
            DigestFigure(label=myths.get(myth, myth), value=n, previous=before.worries.get(myth, 0))
            for myth, n in now_figures.worries.most_common(3)
        )
        tz = ZoneInfo(schedule.tz)
        fmt = "%a %d %b %Y"
        values = {
            "cadence": "week" if schedule.cadence == "weekly" else "day",
            "start": start.astimezone(tz).strftime(fmt),
            "end": end.astimezone(tz).strftime(fmt),
            "tz": schedule.tz,
        }
        empty = not needs and all(f.value == 0 for f in figures)
        return Digest(
            title=c.title.format(**values),
            period=c.period.format(**values),
            needs_you=tuple(needs),
            figures=tuple(f for f in figures if f.value or f.previous),
            unsure=unsure,
            worries_label=c.worries_label,
            worries=worries,
            trend_label=c.trend_label.format(n=TREND_PERIODS, unit=values["cadence"]),
            trend=tuple(reversed(trend)),
            empty=empty,
            empty_text=c.empty_text,
        )

    async def _count_completed(
        self, session: AsyncSession, in_scope: ColumnElement[bool], start: datetime, end: datetime
    ) -> int:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Check)
                .where(in_scope, Check.finished_at >= start, Check.finished_at < end, Check.decision.is_not(None))
            )
            or 0
        )

    async def _figures(
        self, session: AsyncSession, in_scope: ColumnElement[bool], start: datetime, end: datetime
    ) -> _Figures:
        figures = _Figures()
        rows = await session.execute(
            select(
                Check.decision,
                Check.snapshot["immediate_risk"].as_boolean(),
                Check.snapshot["unsure_rules"],
                Check.snapshot["myths_shown"],
                Check.snapshot["unconfirmed"],
            ).where(in_scope, Check.finished_at >= start, Check.finished_at < end, Check.decision.is_not(None))
        )
        for decision, urgent, unsure, myths, unconfirmed in rows:
            figures.counts["completed"] += 1
            figures.counts[decision] += 1
            figures.counts["immediate_risk"] += 1 if urgent else 0
            if isinstance(unsure, list):
                figures.unsure.update(str(u) for u in unsure)
            if isinstance(myths, list):
                figures.worries.update(str(m) for m in myths)
            if isinstance(unconfirmed, list):
                figures.unconfirmed.update(str(u) for u in unconfirmed)
        fu_rows = await session.execute(
            select(
                FollowUp.state, FollowUp.answered_at, FollowUp.escalated_at, FollowUp.escalate_at, FollowUp.created_at
            )
            .join(Check, Check.id == FollowUp.check_id)
            .where(
                in_scope, FollowUp.created_at < end, or_(FollowUp.answered_at.is_(None), FollowUp.answered_at >= start)
            )
        )
        for state, answered_at, escalated_at, escalate_at, _created in fu_rows:
            answered_in = answered_at is not None and start <= answered_at < end
            if answered_in and state == "confirmed":
                figures.counts["confirmed"] += 1
            if answered_in and state == "clarification":
                figures.counts["clarification"] += 1
            if escalated_at is not None and start <= escalated_at < end:
                figures.counts["escalated"] += 1
            open_at_end = answered_at is None or answered_at >= end
            if open_at_end and state in ("scheduled", "awaiting", "escalated"):
                figures.counts["outstanding"] += 1
                if escalate_at < end:
                    figures.counts["overdue"] += 1
        return figures

    async def _needs_you(self, session: AsyncSession, in_scope: ColumnElement[bool], end: datetime) -> list[DigestItem]:
        words = self.content.needs_you
        rows = await session.execute(
            select(FollowUp.case_reference, FollowUp.state, FollowUp.kind, FollowUp.escalate_at, FollowUp.answered_at)
            .join(Check, Check.id == FollowUp.check_id)
            .where(
                in_scope,
                FollowUp.created_at < end,
                FollowUp.state.in_(
                    (
                        "escalated",
                        "not_received",
                        "could_not_confirm",
                        "clarification",
                        "undeliverable",
                        "awaiting",
                        "scheduled",
                    )
                ),
            )
            .order_by(FollowUp.escalate_at)
        )
        order = (
            "escalated",
            "not_received",
            "could_not_confirm",
            "undeliverable",
            "overdue",
            "clarification",
            "requester_not_told",
        )
        items: list[tuple[int, DigestItem]] = []
        for case_ref, state, kind, escalate_at, answered_at in rows:
            reason: str | None = None
            if state in ("awaiting", "scheduled"):
                if kind == "tell_requester":
                    reason = "requester_not_told"
                elif escalate_at < end:
                    reason = "overdue"
            elif answered_at is None or answered_at < end:
                reason = state
            if reason is not None:
                items.append(
                    (order.index(reason), DigestItem(case_reference=case_ref or "(no reference)", text=words[reason]))
                )
        items.sort(key=lambda pair: pair[0])
        return [item for _, item in items[:MAX_ITEMS]]

    # --- the scheduler's side -----------------------------------------------------------------

    async def leads(self) -> list[tuple[str, str, str]]:
        """(platform, workspace, lead) for every lead who should get a digest."""
        return sorted(await self._leads_since())

    async def _leads_since(self) -> dict[tuple[str, str, str], datetime | None]:
        """Every lead, with when they became one (the configured default lead: when their workspace's first
        check started)."""
        async with self._sessions() as session:
            result = await session.execute(
                select(
                    LeadAssignment.platform,
                    LeadAssignment.workspace_id,
                    LeadAssignment.lead_id,
                    func.min(LeadAssignment.created_at),
                ).group_by(LeadAssignment.platform, LeadAssignment.workspace_id, LeadAssignment.lead_id)
            )
            leads: dict[tuple[str, str, str], datetime | None] = {(p, w, lead): since for p, w, lead, since in result}
            places = await self._leads.default_places(session)
            if places:
                # the default lead leads a workspace from its first check: without this, the first check there
                # brought them an unasked, empty digest for the period before anyone used ShareCheck
                firsts = await session.execute(
                    select(Check.platform, Check.workspace_id, func.min(Check.started_at)).group_by(
                        Check.platform, Check.workspace_id
                    )
                )
                first_check = {(p, w): first for p, w, first in firsts}
                for platform, workspace, lead in places:
                    leads.setdefault((platform, workspace, lead), first_check.get((platform, workspace)))
        return leads

    async def queue_due(self, pack: Pack, catch_up: int = 4) -> int:
        """Queue every lead's digest for each complete period not yet sent (late rather than never).

        The ``digests_sent`` key (lead, period end) is inserted in the same transaction as the outbox
        message, so several instances racing here queue it once.
        """
        now = self._clock.now()
        queued = 0
        for (platform, workspace_id, lead_id), since in (await self._leads_since()).items():
            schedule = await self.schedule(platform, workspace_id, lead_id)
            start, end = schedule.period_ending_by(now)
            periods = [(start, end)]
            async with self._sessions() as session:
                last = await session.scalar(
                    select(func.max(DigestSent.period_end)).where(
                        DigestSent.platform == platform,
                        DigestSent.workspace_id == workspace_id,
                        DigestSent.lead_id == lead_id,
                    )
                )
            last = last or since  # a new lead's first digest is the first period that ends after they became one
            if last is not None:
                while len(periods) < catch_up and periods[-1][0] > last:
                    periods.append(schedule.previous(periods[-1][0]))
                periods = [p for p in periods if p[1] > last]
            for p_start, p_end in reversed(periods):
                digest = await self.build_period(platform, workspace_id, lead_id, pack, schedule, p_start, p_end)
                try:
                    async with self._sessions.begin() as session:
                        session.add(
                            DigestSent(
                                platform=platform,
                                workspace_id=workspace_id,
                                lead_id=lead_id,
                                period_end=p_end,
                                period_start=p_start,
                                queued_at=now,
                            )
                        )
                        await session.flush()
                        session.add(_outbox(platform, workspace_id, lead_id, digest.model_dump(mode="json"), now))
                    queued += 1
                except IntegrityError:
                    continue  # another instance queued this period
        return queued

    async def send_now(self, platform: str, workspace_id: str, lead_id: str, digest: Digest) -> None:
        """A digest asked for on demand: queued for delivery, not counted as the period's scheduled one."""
        async with self._sessions.begin() as session:
            session.add(_outbox(platform, workspace_id, lead_id, digest.model_dump(mode="json"), self._clock.now()))


@dataclass
class _Figures:
    counts: Counter[str]
    unsure: Counter[str]
    worries: Counter[str]
    unconfirmed: Counter[str]

    def __init__(self) -> None:
        self.counts = Counter()
        self.unsure = Counter()
        self.worries = Counter()
        self.unconfirmed = Counter()


def _outbox(platform: str, workspace_id: str, lead_id: str, message: dict[str, Any], now: datetime) -> OutboxMessage:
    return OutboxMessage(
        id=uuid.uuid4(),
        platform=platform,
        workspace_id=workspace_id,
        user_id=lead_id,
        purpose="digest",
        follow_up_id=None,
        message=message,
        status="queued",
        attempts=0,
        due_at=now,
        created_at=now,
    )
