"""What the scheduler runs for follow-ups: asking, nudging and escalating those whose time has come, and closing
the loop openly when the outbox gives up on a question.

A nudge is timed from when the previous question actually went out (``outbox.sent_at``, set by the scheduler
once the platform took it, or by the console's inbox once collected), not from when it was queued; and while a
question still waits in the outbox (rate limits, an outage) no second one is queued. So a recipient never gets
the question and a nudge back to back after a 429 storm.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import FollowUp, OutboxMessage, PlatformUser
from bot.followups.flows import ESCALATING_KINDS, AskQuestion, Context, Flows, transition
from bot.followups.messaging import outbox_row
from bot.followups.models import (
    ACTOR_SYSTEM,
    OPEN_STATES,
    QUESTION_PURPOSES,
    SCHEDULED_STATES,
    Kind,
    Purpose,
    State,
    Verb,
)
from bot.services.records import NewEvent, append_event, append_events
from bot.settings import Settings
from bot.working_hours import zone


@dataclass
class _AdvanceBatch:
    """What a batch of advanced follow-ups adds, written in a few statements (``advance_due``)."""

    events: list[NewEvent] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    async def write(self, session: AsyncSession) -> None:
        """Append the events and queue the messages gathered so far (an executemany each), then start afresh."""
        await append_events(session, self.events)
        if self.outbox:
            await session.execute(insert(OutboxMessage), self.outbox)
        self.events, self.outbox = [], []


@dataclass(frozen=True)
class _LastAsked:
    """The follow-up's questions in the outbox so far: whether one still waits, and when the last went out."""

    waiting: bool
    sent_at: datetime | None


class DueFollowUps:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, flows: Flows
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._flows = flows
        self._hours = flows.hours

    async def advance_due(self, limit: int = 200) -> int:
        """Ask, nudge or escalate every follow-up whose time has come. Safe with several instances:
        rows are locked with SKIP LOCKED, so each is advanced by exactly one of them."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(FollowUp)
                    .where(FollowUp.due_at <= now, FollowUp.state.in_(SCHEDULED_STATES))
                    .order_by(FollowUp.due_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            # every target's time zone in one query, not one per row (the scheduler's hot path)
            zones = await self._zones(session, rows)
            # and what each has been asked so far, in one query, for those asked before: a first question (the
            # common case, and all of a burst) has nothing in the outbox, so costs nothing here
            asked = await self._last_asked(session, [fu for fu in rows if _asked_before(fu)])
            # the batch's trail events and messages are written together at the end, a few statements
            # instead of three or four per follow-up; same transaction as the state changes, so still all or nothing
            batch = _AdvanceBatch()
            # no autoflush: each statement below would otherwise re-check every loaded row for changes,
            # which made a batch quadratic; the changes are flushed once, at commit
            with session.no_autoflush:
                for follow_up in rows:
                    await self._advance(session, follow_up, now, zones, asked.get(follow_up.id), batch)
                await batch.write(session)
        return len(rows)

    async def _zones(self, session: AsyncSession, rows: list[FollowUp]) -> dict[tuple[str, str, str], ZoneInfo]:
        keys = {(fu.platform, fu.workspace_id, fu.target_id) for fu in rows}
        found: dict[tuple[str, str, str], str | None] = {}
        users = sorted({user for _, _, user in keys})
        for i in range(0, len(users), 500):
            result = await session.execute(
                select(PlatformUser.platform, PlatformUser.workspace_id, PlatformUser.user_id, PlatformUser.tz).where(
                    PlatformUser.user_id.in_(users[i : i + 500])
                )
            )
            for platform, workspace_id, user_id, tz in result:
                found[(platform, workspace_id, user_id)] = tz
        default = self._settings.sharecheck_default_tz
        return {key: zone(found.get(key), default) for key in keys}

    async def _last_asked(self, session: AsyncSession, rows: list[FollowUp]) -> dict[uuid.UUID, _LastAsked]:
        if not rows:
            return {}
        result = await session.execute(
            select(
                OutboxMessage.follow_up_id,
                func.sum(case((OutboxMessage.status == "queued", 1), else_=0)),
                func.max(OutboxMessage.sent_at),
            )
            .where(
                OutboxMessage.follow_up_id.in_([fu.id for fu in rows]),
                OutboxMessage.purpose.in_(QUESTION_PURPOSES),
            )
            .group_by(OutboxMessage.follow_up_id)
        )
        return {fid: _LastAsked(bool(waiting), sent_at) for fid, waiting, sent_at in result if fid is not None}

    async def _advance(
        self,
        session: AsyncSession,
        fu: FollowUp,
        now: datetime,
        zones: dict[tuple[str, str, str], ZoneInfo],
        asked: _LastAsked | None,
        batch: _AdvanceBatch,
    ) -> None:
        """Advance one follow-up; its message and trail event go into ``batch``, for the caller to write."""
        if fu.state == State.AWAITING and now >= fu.escalate_at and fu.kind in ESCALATING_KINDS:
            # escalating appends at once: the events gathered so far go first, so every trail keeps the
            # order in which its follow-ups were advanced (escalations are rare; the flush costs little)
            await batch.write(session)
            lead = await self._flows.lead(session, fu)
            lead_tz = await self._flows.zone(session, fu.platform, fu.workspace_id, lead) if lead else None
            opens = self._hours.next_open(now, lead_tz) if lead_tz else now
            if opens > now:
                fu.due_at = opens  # tell the lead in their working hours
                return
            await self._flows.apply(session, fu, Context(now, ACTOR_SYSTEM, Verb.OVERDUE))
            return
        tz = zones[(fu.platform, fu.workspace_id, fu.target_id)]
        nudge = fu.state == State.AWAITING
        later = self._not_yet(fu, asked, now, tz, nudge)
        if later is not None:
            fu.due_at = self._capped(fu, later)
            return
        step = transition(fu, Verb.NUDGE if nudge else Verb.ASK)
        assert step.effects == (AskQuestion(nudge=nudge),) and step.to is not None
        purpose = Purpose.NUDGE if nudge else Purpose.ASK
        batch.outbox.append(outbox_row(fu, fu.target_id, purpose, self._flows.messaging.prompt(fu, nudge), now))
        event = "follow_up_nudged" if nudge else "follow_up_asked"
        batch.events.append(
            NewEvent(fu.check_id, event, ACTOR_SYSTEM, now, {"follow_up": str(fu.id), "to": fu.target_id})
        )
        fu.nudges += 1 if nudge else 0
        fu.state = step.to
        # a first guess: the next look is a nudge period from now, and is put back then if this question goes out
        # later than now (the outbox retrying)
        fu.due_at = self._capped(fu, self._hours.next_open(now + self._settings.sharecheck_nudge_every, tz))
        fu.updated_at = now
        fu.version += 1

    def _not_yet(
        self, fu: FollowUp, asked: _LastAsked | None, now: datetime, tz: ZoneInfo, nudge: bool
    ) -> datetime | None:
        """When to look again instead of asking now, or None to ask now.

        While an earlier question waits in the outbox, the next look is a nudge period from now: the earliest a
        nudge could be due however soon that question goes out. A nudge waits a nudge period from when the last
        question went out."""
        if asked is None:
            return None
        every = self._settings.sharecheck_nudge_every
        if asked.waiting:
            return self._hours.next_open(now + every, tz)
        if nudge and asked.sent_at is not None:
            due = self._hours.next_open(asked.sent_at + every, tz)
            if due > now:
                return due
        return None

    @staticmethod
    def _capped(fu: FollowUp, due: datetime) -> datetime:
        # a kind the lead hears about is looked at again no later than its escalation
        return min(due, fu.escalate_at) if fu.kind in ESCALATING_KINDS else due

    async def undeliverable(
        self, session: AsyncSession, follow_up_id: uuid.UUID, now: datetime, reason: str, *, ours: bool = False
    ) -> None:
        """The person asked cannot be reached: close the loop openly, never silently (the outbox gave up on the
        question, in the caller's transaction).

        ``ours``: the platform kept refusing ShareCheck's own request (a fault of ours, not the person's).
        A recipient who cannot be reached leaves the sender told and asked to confirm receipt another way (a
        follow-up of their own, so ``pending`` shows it and they can record how). A sender who cannot be reached
        in their own chat keeps the follow-up open (``pending`` shows it, a late answer counts) and their lead
        is told in the lead's chat.
        """
        fu = await session.get(FollowUp, follow_up_id, with_for_update=True)
        if fu is None or fu.state not in OPEN_STATES:
            return
        await append_event(
            session,
            fu.check_id,
            "follow_up_undeliverable",
            ACTOR_SYSTEM,
            now,
            {"follow_up": str(fu.id), "reason": reason, **({"fault": "sharecheck"} if ours else {})},
        )
        fu.due_at = None
        fu.updated_at = now
        fu.version += 1
        verb = Verb.SENDER_UNREACHABLE if fu.target_id == fu.sender_id else Verb.UNDELIVERABLE
        await self._flows.apply(session, fu, Context(now, ACTOR_SYSTEM, verb, ours=ours))


def _asked_before(fu: FollowUp) -> bool:
    """Whether an earlier question of this follow-up may be in the outbox: one asked already (a nudge is due), or
    the disagreement route, whose every stage asks again."""
    return fu.state == State.AWAITING or fu.kind == Kind.DISAGREEMENT
