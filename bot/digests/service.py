"""Digests as the application uses them: who sees what, a lead's schedule, and a digest built from the records.

Scope decides everything a lead sees: their own practitioners, channels or whole workspace, and, for the default
lead, practitioners who have no lead. Every query is limited to the lead's platform and workspace, so a lead never
sees another tenant's case references.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Check, DigestSchedule, FollowUp, LeadAssignment
from bot.digests.messaging import compose, digest_content, outbox_row
from bot.digests.models import DEFAULT_SCHEDULE, TREND_PERIODS, Cadence, Figure, Figures, NeedsYou, Schedule
from bot.digests.scheduled import DueDigests
from bot.followups.models import OPEN_STATES, SCHEDULED_STATES, Kind, State
from bot.services.leads import LeadDirectory
from bot.settings import Settings
from dialogs.content import Pack
from dialogs.messages import Digest

NEEDING_THE_LEAD: tuple[State, ...] = (
    State.ESCALATED,
    State.NOT_RECEIVED,
    State.COULD_NOT_CONFIRM,
    State.CLARIFICATION,
    State.UNDELIVERABLE,
    *SCHEDULED_STATES,
)
"""The follow-up states that can put a case under 'needs you' (still waiting: when overdue, or the requester is
not told yet)."""


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
        self.scheduled = DueDigests(sessions, clock, self)

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

    async def leads(self) -> list[tuple[str, str, str]]:
        """(platform, workspace, lead) for every lead who should get a digest."""
        return sorted(await self.leads_since())

    async def leads_since(self) -> dict[tuple[str, str, str], datetime | None]:
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
        return Schedule(Cadence(row.cadence), row.weekday, row.hour, row.tz)

    async def set_schedule(self, platform: str, workspace_id: str, lead_id: str, schedule: Schedule) -> None:
        if schedule.cadence not in tuple(Cadence) or not 0 <= schedule.hour <= 23 or not 0 <= schedule.weekday <= 6:
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
        return compose(self.content, pack, schedule, start, end, now_figures, before, needs, trend)

    async def send_now(self, platform: str, workspace_id: str, lead_id: str, digest: Digest) -> None:
        """A digest asked for on demand: queued for delivery, not counted as the period's scheduled one."""
        async with self._sessions.begin() as session:
            session.add(outbox_row(platform, workspace_id, lead_id, digest, self._clock.now()))

    # --- the figures --------------------------------------------------------------------------

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
    ) -> Figures:
        figures = Figures()
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
            figures.counts[Figure.COMPLETED] += 1
            figures.counts[decision] += 1  # its Figure: SHARE, NOT_SHARE, SEEK_ADVICE
            figures.counts[Figure.IMMEDIATE_RISK] += 1 if urgent else 0
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
            if answered_in and state == State.CONFIRMED:
                figures.counts[Figure.CONFIRMED] += 1
            if answered_in and state == State.CLARIFICATION:
                figures.counts[Figure.CLARIFICATION] += 1
            if escalated_at is not None and start <= escalated_at < end:
                figures.counts[Figure.ESCALATED] += 1
            open_at_end = answered_at is None or answered_at >= end
            if open_at_end and state in OPEN_STATES:
                figures.counts[Figure.OUTSTANDING] += 1
                if escalate_at < end:
                    figures.counts[Figure.OVERDUE] += 1
        return figures

    async def _needs_you(
        self, session: AsyncSession, in_scope: ColumnElement[bool], end: datetime
    ) -> list[tuple[NeedsYou, str | None]]:
        """Why each case in scope needs the lead at ``end``, with its case reference (by ``escalate_at``)."""
        rows = await session.execute(
            select(FollowUp.case_reference, FollowUp.state, FollowUp.kind, FollowUp.escalate_at, FollowUp.answered_at)
            .join(Check, Check.id == FollowUp.check_id)
            .where(in_scope, FollowUp.created_at < end, FollowUp.state.in_(NEEDING_THE_LEAD))
            .order_by(FollowUp.escalate_at)
        )
        needs: list[tuple[NeedsYou, str | None]] = []
        for case_reference, state, kind, escalate_at, answered_at in rows:
            reason: NeedsYou | None = None
            if state in SCHEDULED_STATES:
                if kind == Kind.TELL_REQUESTER:
                    reason = NeedsYou.REQUESTER_NOT_TOLD
                elif escalate_at < end:
                    reason = NeedsYou.OVERDUE
            elif answered_at is None or answered_at < end:
                reason = NeedsYou(state)
            if reason is not None:
                needs.append((reason, case_reference))
        return needs
