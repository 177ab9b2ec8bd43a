"""'Received and understood': the follow-up loop after every share, and the reminder after a refusal.

A follow-up is a small state machine stored in ``follow_ups``. Its transitions (ask, nudge,
escalate, answer) each happen in one transaction that also queues the messages they cause in the
``outbox`` and appends to the check's trail, so a crash can lose neither a state change nor a message.

States: scheduled -> awaiting -> (confirmed | clarification | not_received | could_not_confirm |
told | undeliverable | escalated). 'escalated' stays answerable: a late answer is still recorded.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage, PlatformUser
from bot.followup_content import FollowUpContent, Question, followup_content
from bot.services.checks import Actor
from bot.services.leads import LeadDirectory
from bot.services.records import append_event
from bot.settings import Settings
from bot.working_hours import WorkingHours, zone
from dialogs.messages import ChoiceView, FollowUpPrompt, Info, Outbound, PendingItem
from dialogs.record import RecordSnapshot, describe_recipient

log = logging.getLogger(__name__)

OPEN_STATES = ("scheduled", "awaiting", "escalated")
SCHEDULED_STATES = ("scheduled", "awaiting")
PLATFORMS_WITH_DELIVERY = frozenset({"slack", "teams"})
ACTOR_SYSTEM = "sharecheck:scheduler"


class FollowUpNotFound(LookupError):
    """No such follow-up for this person (never says whether it exists for someone else)."""


class NoteRequired(ValueError):
    """This answer needs a typed note (for example, what is unclear)."""


@dataclass(frozen=True)
class AnswerResult:
    changed: bool
    reply: Info


def user_token(user_id: str) -> str:
    return "{user:" + user_id + "}"


def _plain(text: str) -> str:
    # typed notes must not smuggle {user:...} tokens into a message
    return text.replace("{", "(").replace("}", ")")


class FollowUpService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        leads: LeadDirectory,
        content: FollowUpContent | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._leads = leads
        self._hours: WorkingHours = settings.working_hours
        self.content = content or followup_content()

    # --- creation (runs inside the transaction that completes the check) ------------------

    async def on_check_completed(
        self, session: AsyncSession, check: Check, snapshot: RecordSnapshot, actor: Actor
    ) -> None:
        if check.platform not in PLATFORMS_WITH_DELIVERY:
            return  # the console has nobody to message later; its summary says what to check by hand
        now = check.finished_at or self._clock.now()
        answers = {a.step_id: a.choices for a in snapshot.answers}
        kind: str | None = None
        target = check.user_id
        if snapshot.decision == "share":
            recipient = snapshot.recipient
            if recipient is not None and recipient.user_id:
                kind, target = "recipient_confirm", recipient.user_id
            else:
                kind = "sender_confirm"
        elif (
            snapshot.decision == "not_share"
            and "asked" in answers.get("request_context", ())
            and "told" not in answers.get("requester_told", ())
        ):
            kind = "tell_requester"
        if kind is None:
            return
        tz = await self._zone(session, check.platform, check.workspace_id, target)
        first = self._hours.next_open(now + self._settings.sharecheck_confirm_after, tz)
        follow_up = FollowUp(
            id=uuid.uuid4(),
            check_id=check.id,
            platform=check.platform,
            workspace_id=check.workspace_id,
            kind=kind,
            sender_id=check.user_id,
            target_id=target,
            case_reference=snapshot.case_reference,
            details={
                "method": snapshot.fields.get("method", "an agreed method"),
                "recipient": describe_recipient(snapshot.recipient) if snapshot.recipient else "the recipient",
                "recipient_user": snapshot.recipient.user_id if snapshot.recipient else None,
                "shared_on": now.astimezone(tz).strftime("%d %b %Y"),
            },
            state="scheduled",
            due_at=first,
            escalate_at=now + self._settings.sharecheck_escalate_after,
            nudges=0,
            created_at=now,
            updated_at=now,
        )
        session.add(follow_up)
        await session.flush()
        await append_event(
            session,
            check.id,
            "follow_up_scheduled",
            ACTOR_SYSTEM,
            now,
            {"follow_up": str(follow_up.id), "kind": kind, "target": target, "due": first.isoformat()},
        )

    # --- the scheduler's side -------------------------------------------------------------

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
            for follow_up in rows:
                await self._advance(session, follow_up, now, zones)
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

    async def _advance(
        self, session: AsyncSession, fu: FollowUp, now: datetime, zones: dict[tuple[str, str, str], ZoneInfo]
    ) -> None:
        if fu.state == "awaiting" and now >= fu.escalate_at and fu.kind != "tell_requester":
            lead = await self._lead(session, fu)
            lead_tz = await self._zone(session, fu.platform, fu.workspace_id, lead) if lead else None
            opens = self._hours.next_open(now, lead_tz) if lead_tz else now
            if opens > now:
                fu.due_at = opens  # tell the lead in their working hours
                return
            await self._escalate(session, fu, now, "overdue")
            return
        question = self.content.question(fu.kind)
        nudge = fu.state == "awaiting"
        await self._queue(
            session, fu, fu.target_id, "nudge" if nudge else "ask", self._prompt(fu, question, nudge), now
        )
        event = "follow_up_nudged" if nudge else "follow_up_asked"
        await append_event(
            session, fu.check_id, event, ACTOR_SYSTEM, now, {"follow_up": str(fu.id), "to": fu.target_id}
        )
        fu.nudges += 1 if nudge else 0
        fu.state = "awaiting"
        tz = zones[(fu.platform, fu.workspace_id, fu.target_id)]
        next_nudge = self._hours.next_open(now + self._settings.sharecheck_nudge_every, tz)
        fu.due_at = min(next_nudge, fu.escalate_at) if fu.kind != "tell_requester" else next_nudge
        fu.updated_at = now
        fu.version += 1

    def _prompt(self, fu: FollowUp, question: Question, nudge: bool) -> FollowUpPrompt:
        values = self._values(fu)
        lines = tuple(line.format(**values) for line in question.lines)
        title = (self.content.nudge_prefix + question.title) if nudge else question.title
        return FollowUpPrompt(
            follow_up_id=str(fu.id),
            title=title,
            lines=lines,
            choices=tuple(ChoiceView(id=c.id, label=c.label, style=c.style) for c in question.choices),
            note_required=question.note_required,
            note_optional=question.note_optional,
            note_prompt=question.note_prompt,
        )

    def _values(self, fu: FollowUp, **extra: str) -> dict[str, str]:
        details: dict[str, Any] = fu.details or {}
        recipient_user = details.get("recipient_user")
        return {
            "sender": user_token(fu.sender_id),
            "target": user_token(fu.target_id),
            "recipient": user_token(recipient_user) if recipient_user else str(details.get("recipient", "")),
            "case_reference": fu.case_reference or "(no reference)",
            "method": str(details.get("method", "")),
            "shared_on": str(details.get("shared_on", "")),
            **extra,
        }

    async def _escalate(self, session: AsyncSession, fu: FollowUp, now: datetime, reason: str) -> None:
        notices = self.content.notices
        values = self._values(fu, trail=await self._trail(session, fu))
        body = {
            "overdue": notices.escalation_overdue,
            "not_received": notices.escalation_not_received,
            "could_not_confirm": notices.escalation_could_not_confirm,
            "undeliverable": notices.escalation_undeliverable,
        }[reason]
        lead = await self._lead(session, fu)
        if lead is None:
            await self._queue(
                session,
                fu,
                fu.sender_id,
                "no_lead",
                Info(title=notices.escalation_title.format(**values), lines=(body.format(**values), notices.no_lead)),
                now,
            )
        else:
            message = Info(
                title=notices.escalation_title.format(**values),
                lines=(body.format(**values), notices.escalation_trail.format(**values)),
            )
            await self._queue(session, fu, lead, "escalation", message, now)
        await append_event(
            session,
            fu.check_id,
            "follow_up_escalated",
            ACTOR_SYSTEM,
            now,
            {"follow_up": str(fu.id), "reason": reason, "lead": lead},
        )
        fu.escalated_at = now
        if fu.state in SCHEDULED_STATES:
            fu.state = "escalated"
        fu.due_at = None
        fu.updated_at = now
        fu.version += 1

    async def _trail(self, session: AsyncSession, fu: FollowUp) -> str:
        events = await session.scalars(
            select(CheckEvent).where(CheckEvent.check_id == fu.check_id).order_by(CheckEvent.seq)
        )
        parts = []
        for e in events:
            if e.kind.startswith("follow_up") and e.data.get("follow_up") == str(fu.id):
                parts.append(f"{e.kind.removeprefix('follow_up_')} {e.at:%d %b %H:%M}")
            elif e.kind == "completed":
                parts.append(f"decided {e.at:%d %b %H:%M}")
        return "; ".join(parts)

    async def undeliverable(self, session: AsyncSession, follow_up_id: uuid.UUID, now: datetime, reason: str) -> None:
        """The platform says the person cannot be reached: close the loop openly, never silently."""
        fu = await session.get(FollowUp, follow_up_id, with_for_update=True)
        if fu is None or fu.state not in OPEN_STATES:
            return
        await append_event(
            session,
            fu.check_id,
            "follow_up_undeliverable",
            ACTOR_SYSTEM,
            now,
            {"follow_up": str(fu.id), "reason": reason},
        )
        fu.state = "undeliverable"
        fu.due_at = None
        fu.updated_at = now
        fu.version += 1
        if fu.target_id != fu.sender_id:
            values = self._values(fu)
            await self._queue(
                session,
                fu,
                fu.sender_id,
                "undeliverable",
                Info(
                    title=self.content.recipient_confirm.title,
                    lines=(self.content.notices.undeliverable.format(**values),),
                ),
                now,
            )
        else:
            await self._escalate(session, fu, now, "undeliverable")

    # --- answers --------------------------------------------------------------------------

    async def answer(self, actor: Actor, follow_up_id: uuid.UUID, choice: str, note: str | None = None) -> AnswerResult:
        """A one-click answer from the person asked. Pressing twice, or on an old message, changes nothing."""
        now = self._clock.now()
        notices = self.content.notices
        async with self._sessions.begin() as session:
            fu = await session.scalar(
                select(FollowUp)
                .where(
                    FollowUp.id == follow_up_id,
                    FollowUp.platform == actor.platform,
                    FollowUp.workspace_id == actor.workspace_id,
                    FollowUp.target_id == actor.user_id,
                )
                .with_for_update()
            )
            if fu is None:
                raise FollowUpNotFound("No such follow-up for you.")
            question = self.content.question(fu.kind)
            if choice not in {c.id for c in question.choices}:
                raise ValueError("That is not one of the answers to this follow-up.")
            note = _plain(note.strip())[:1000] if note and note.strip() else None
            if choice in question.note_required and not note:
                raise NoteRequired(question.note_prompt)
            values = self._values(fu, note=note or "")
            if fu.state not in OPEN_STATES:
                answered = fu.answered_at.strftime("%d %b %Y %H:%M UTC") if fu.answered_at else "earlier"
                return AnswerResult(
                    False, Info(title=question.title, lines=(notices.already_answered.format(answered_on=answered),))
                )
            await append_event(
                session,
                fu.check_id,
                "follow_up_answered",
                str(actor),
                now,
                {"follow_up": str(fu.id), "answer": choice, **({"note": note} if note else {})},
            )
            fu.updated_at = now
            fu.version += 1
            if choice == "remind_me":
                tz = await self._zone(session, fu.platform, fu.workspace_id, fu.target_id)
                fu.state = "awaiting"
                fu.due_at = self._hours.next_open(now + self._settings.sharecheck_nudge_every, tz)
                return AnswerResult(True, Info(title=question.title, lines=(notices.remind_later.format(**values),)))
            fu.answered_at = now
            fu.due_at = None
            reply = notices.thanks
            if choice in ("understood", "confirmed"):
                fu.state = "confirmed"
                if fu.kind == "recipient_confirm":
                    await self._notify_sender(session, fu, notices.confirmed.format(**values), now)
                else:
                    reply = notices.sender_confirmed
            elif choice == "clarification":
                fu.state = "clarification"
                await self._notify_sender(session, fu, notices.clarification.format(**values), now)
            elif choice == "not_received":
                fu.state = "not_received"
                await self._notify_sender(session, fu, notices.not_received.format(**values), now)
                await self._escalate_now(session, fu, now, "not_received")
            elif choice == "could_not_confirm":
                fu.state = "could_not_confirm"
                await self._escalate_now(session, fu, now, "could_not_confirm")
            elif choice == "told":
                fu.state = "told"
                reply = notices.told_requester
            return AnswerResult(True, Info(title=question.title, lines=(reply.format(**values),)))

    async def _escalate_now(self, session: AsyncSession, fu: FollowUp, now: datetime, reason: str) -> None:
        state = fu.state
        await self._escalate(session, fu, now, reason)
        fu.state = state  # keep the answer as the state; the escalation is in the trail

    async def _notify_sender(self, session: AsyncSession, fu: FollowUp, text: str, now: datetime) -> None:
        title = self.content.question(fu.kind).title
        await self._queue(session, fu, fu.sender_id, "notice", Info(title=title, lines=(text,)), now)

    # --- reading ------------------------------------------------------------------------

    async def pending_items(self, actor: Actor) -> list[PendingItem]:
        """Open follow-ups this person is asked about, or is waiting on as the sender."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(FollowUp)
                .where(
                    FollowUp.platform == actor.platform,
                    FollowUp.workspace_id == actor.workspace_id,
                    (FollowUp.target_id == actor.user_id) | (FollowUp.sender_id == actor.user_id),
                    FollowUp.state.in_(OPEN_STATES),
                )
                .order_by(FollowUp.created_at)
            )
            items = []
            for fu in rows:
                role = "you are asked to confirm" if fu.target_id == actor.user_id else "waiting for the recipient"
                when = f", next reminder {fu.due_at:%d %b %H:%M} UTC" if fu.due_at else ""
                state = {
                    "scheduled": "not yet sent",
                    "awaiting": "awaiting an answer",
                    "escalated": "escalated to the lead",
                }[fu.state]
                items.append(
                    PendingItem(
                        kind="follow_up",
                        case_reference=fu.case_reference,
                        status=f"{self.content.question(fu.kind).title}: {state} ({role}{when})",
                        check_id=str(fu.check_id),
                    )
                )
            return items

    # --- helpers ------------------------------------------------------------------------

    async def _queue(
        self, session: AsyncSession, fu: FollowUp, user_id: str, purpose: str, message: Outbound, now: datetime
    ) -> None:
        session.add(
            OutboxMessage(
                id=uuid.uuid4(),
                platform=fu.platform,
                workspace_id=fu.workspace_id,
                user_id=user_id,
                purpose=purpose,
                follow_up_id=fu.id,
                message=message.model_dump(mode="json"),
                status="queued",
                attempts=0,
                due_at=now,
                created_at=now,
            )
        )

    async def _lead(self, session: AsyncSession, fu: FollowUp) -> str | None:
        return await self._leads.lead_for(session, fu.platform, fu.workspace_id, fu.sender_id)

    async def _zone(self, session: AsyncSession, platform: str, workspace_id: str, user_id: str) -> ZoneInfo:
        tz = await session.scalar(
            select(PlatformUser.tz).where(
                PlatformUser.platform == platform,
                PlatformUser.workspace_id == workspace_id,
                PlatformUser.user_id == user_id,
            )
        )
        return zone(tz, self._settings.sharecheck_default_tz)
