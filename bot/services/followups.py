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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage, PlatformUser
from bot.followup_content import FollowUpContent, Question, followup_content
from bot.packs import PackRegistry
from bot.services.checks import Actor, CompletionExtras
from bot.services.leads import LeadDirectory
from bot.services.records import NewEvent, append_event, append_events
from bot.settings import Settings
from bot.working_hours import WorkingHours, zone
from dialogs.messages import ChoiceView, FollowUpPrompt, Info, Outbound, PendingItem
from dialogs.personal_data import Finding, refusal_text, scan
from dialogs.record import RecordSnapshot, add_working_days, describe_recipient
from dialogs.state import DialogState
from dialogs.text_safety import typed
from dialogs.tokens import command_token

log = logging.getLogger(__name__)

OPEN_STATES = ("scheduled", "awaiting", "escalated")
SCHEDULED_STATES = ("scheduled", "awaiting")
PLATFORMS_WITH_DELIVERY = frozenset({"slack", "teams", "console"})
"""Where follow-ups can reach people: pushed by the scheduler, or collected from the console's inbox."""
ESCALATING_KINDS = frozenset({"recipient_confirm", "sender_confirm"})
"""Kinds whose silence is escalated to the lead after SHARECHECK_ESCALATE_AFTER (the others are nudged only)."""
ACTOR_SYSTEM = "sharecheck:scheduler"
ACTOR_RECEIPT = "sharecheck:receipt-link"
"""The trail's actor for answers given on a receipt page (the person is named in the event's data)."""
RECEIPT_ANSWERS = frozenset({"understood", "received", "clarification", "no_information"})


class FollowUpNotFound(LookupError):
    """No such follow-up for this person (never says whether it exists for someone else)."""


class NoteRequired(ValueError):
    """This answer needs a typed note (for example, what is unclear)."""


class NotePersonalData(NoteRequired):
    """The note looks like it holds personal identifiers: asked for again, like a note that is missing (the
    warning is on the trail, its kinds only); ``confirm_personal_data`` keeps it as it is where that is offered."""

    def __init__(self, message: str, kinds: tuple[str, ...]) -> None:
        super().__init__(message)
        self.kinds = kinds


def note_warning(findings: list[Finding]) -> str:
    return refusal_text(findings, "Edit your note to leave out personal details")


@dataclass(frozen=True)
class AnswerResult:
    changed: bool
    reply: Info


def user_token(user_id: str) -> str:
    return "{user:" + user_id + "}"


def _disagree_command(case_reference: str | None) -> str:
    try:
        return command_token(f"disagree {case_reference}") if case_reference else ""
    except ValueError:  # not a reference a command can carry: say it in words instead
        return "The 'disagree' command (see help)"


def _noted(note: str | None, kinds: tuple[str, ...]) -> dict[str, Any]:
    """A note in event data, with the identifier kinds its writer confirmed (as a check answer records them)."""
    if not note:
        return {}
    return {"note": note, **({"personal_data": list(kinds)} if kinds else {})}


def _plain(text: str) -> str:
    # kept for the stored text; messages quote typed text through typed() (dialogs/text_safety.py)
    return text.replace("{", "(").replace("}", ")")


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


class FollowUpService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        leads: LeadDirectory,
        content: FollowUpContent | None = None,
        packs: PackRegistry | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._leads = leads
        self._hours: WorkingHours = settings.working_hours
        self.content = content or followup_content()
        self._packs = packs

    # --- creation (runs inside the transaction that completes the check) ------------------

    async def on_check_completed(
        self, session: AsyncSession, check: Check, snapshot: RecordSnapshot, actor: Actor
    ) -> CompletionExtras | None:
        advice = await self._advice_notes(session, check)
        await self._schedule_confirmation(session, check, snapshot)
        return CompletionExtras(case_note_lines=advice) if advice else None

    async def _advice_notes(self, session: AsyncSession, check: Check) -> tuple[str, ...]:
        """The lead's advice given during the check, for the case notes (the trail has it too)."""
        advised = await session.scalars(
            select(FollowUp)
            .where(FollowUp.check_id == check.id, FollowUp.kind == "advice", FollowUp.state == "advised")
            .order_by(FollowUp.created_at)
        )
        lines = []
        for fu in advised:
            details = fu.details or {}
            at = datetime.fromisoformat(details["advised_at"]) if details.get("advised_at") else fu.updated_at
            note = details.get("advice_note")
            values = self._values(fu) | {
                "advice": str(details.get("advice", "")),
                "advised_on": f"{at:%d %b %Y %H:%M} UTC",
                "note": f"“{note}”" if note else "",
            }
            lines.append(self.content.notices.advice_case_note.format(**values).rstrip())
        return tuple(lines)

    async def _schedule_confirmation(self, session: AsyncSession, check: Check, snapshot: RecordSnapshot) -> None:
        if check.platform not in PLATFORMS_WITH_DELIVERY:
            return
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

    async def ask_lead(
        self, session: AsyncSession, check: Check, state: DialogState, step_id: str, actor: Actor
    ) -> str:
        """'Ask my lead now': the question goes to the practitioner's lead at once; the check waits."""
        notices = self.content.notices
        now = self._clock.now()
        lead = await self._leads.lead_for(session, check.platform, check.workspace_id, check.user_id, check.channel_id)
        if lead is None or check.platform not in PLATFORMS_WITH_DELIVERY:
            await append_event(session, check.id, "advice_not_asked", str(actor), now, {"step": step_id})
            return notices.advice_no_lead
        question_step = state.step or step_id
        case_answer = state.answers.get("case_reference")
        fu = FollowUp(
            id=uuid.uuid4(),
            check_id=check.id,
            platform=check.platform,
            workspace_id=check.workspace_id,
            kind="advice",
            sender_id=check.user_id,
            target_id=lead,
            case_reference=case_answer.text if case_answer else None,
            details={"question": self._question_text(check.pack_id, question_step)},
            state="awaiting",
            due_at=None,  # leads are asked once, at once; the practitioner can ask again
            escalate_at=now,
            nudges=0,
            created_at=now,
            updated_at=now,
        )
        session.add(fu)
        await session.flush()
        await self._queue(session, fu, lead, "advice", self._prompt(fu, self.content.advice, nudge=False), now)
        await append_event(
            session,
            check.id,
            "advice_requested",
            str(actor),
            now,
            {"follow_up": str(fu.id), "lead": lead, "step": question_step},
        )
        return notices.advice_asked

    def _question_text(self, pack_id: str, step_id: str) -> str:
        pack = self._packs.pack(pack_id) if self._packs else None
        return pack.step(step_id).question if pack is not None and pack.has_step(step_id) else step_id

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
            # the batch's trail events and messages are written together at the end, a few statements
            # instead of three or four per follow-up; same transaction as the state changes, so still all or nothing
            batch = _AdvanceBatch()
            # no autoflush: each statement below would otherwise re-check every loaded row for changes,
            # which made a batch quadratic; the changes are flushed once, at commit
            with session.no_autoflush:
                for follow_up in rows:
                    await self._advance(session, follow_up, now, zones, batch)
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

    async def _advance(
        self,
        session: AsyncSession,
        fu: FollowUp,
        now: datetime,
        zones: dict[tuple[str, str, str], ZoneInfo],
        batch: _AdvanceBatch,
    ) -> None:
        """Advance one follow-up; its message and trail event go into ``batch``, for the caller to write."""
        if fu.state == "awaiting" and now >= fu.escalate_at and fu.kind in ESCALATING_KINDS:
            # _escalate appends at once: the events gathered so far go first, so every trail keeps the
            # order in which its follow-ups were advanced (escalations are rare; the flush costs little)
            await batch.write(session)
            lead = await self._lead(session, fu)
            lead_tz = await self._zone(session, fu.platform, fu.workspace_id, lead) if lead else None
            opens = self._hours.next_open(now, lead_tz) if lead_tz else now
            if opens > now:
                fu.due_at = opens  # tell the lead in their working hours
                return
            await self._escalate(session, fu, now, "overdue")
            return
        question = self._question(fu)
        nudge = fu.state == "awaiting"
        batch.outbox.append(
            self._outbox_row(fu, fu.target_id, "nudge" if nudge else "ask", self._prompt(fu, question, nudge), now)
        )
        event = "follow_up_nudged" if nudge else "follow_up_asked"
        batch.events.append(
            NewEvent(fu.check_id, event, ACTOR_SYSTEM, now, {"follow_up": str(fu.id), "to": fu.target_id})
        )
        fu.nudges += 1 if nudge else 0
        fu.state = "awaiting"
        tz = zones[(fu.platform, fu.workspace_id, fu.target_id)]
        next_nudge = self._hours.next_open(now + self._settings.sharecheck_nudge_every, tz)
        fu.due_at = min(next_nudge, fu.escalate_at) if fu.kind in ESCALATING_KINDS else next_nudge
        fu.updated_at = now
        fu.version += 1

    def _question(self, fu: FollowUp) -> Question:
        if fu.kind == "disagreement":
            stage = int((fu.details or {}).get("stage", 0))
            return self.content.disagreement_offer if stage == 0 else self.content.disagreement_stage
        return self.content.question(fu.kind)

    def _info(self, fu: FollowUp, template: str, **extra: str) -> Info:
        """A one-line reply or notice about this follow-up, titled like its question."""
        values = self._values(fu, **extra)
        return Info(title=self._question(fu).title.format(**values), lines=(template.format(**values),))

    def _prompt(self, fu: FollowUp, question: Question, nudge: bool) -> FollowUpPrompt:
        values = self._values(fu)
        lines = tuple(line.format(**values) for line in question.lines)
        title = question.title.format(**values)
        title = self.content.nudge_prefix + title if nudge else title
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
            # what the sender typed about the recipient: marked, so no renderer reads markup or tokens in it
            "recipient": user_token(recipient_user) if recipient_user else typed(str(details.get("recipient", ""))),
            "case_reference": fu.case_reference or "(no reference)",
            "method": str(details.get("method", "")),
            "shared_on": str(details.get("shared_on", "")),
            "question": str(details.get("question", "")),
            "disagree_command": _disagree_command(fu.case_reference),
            "reason": str(details.get("reason", "")),
            "receipt_hint": self.content.receipt.sender_hint.format(receipt_expires=details["receipt_expires"])
            if details.get("receipt_expires")
            else "",
            "policy": f" Local policy: {self._settings.sharecheck_escalation_policy_url}"
            if self._settings.sharecheck_escalation_policy_url
            else "",
            **self._stage_values(details),
            **extra,
        }

    def _stage_values(self, details: dict[str, Any]) -> dict[str, str]:
        stages = self._settings.sharecheck_escalation_stages
        stage = int(details.get("stage", 0))
        if not 1 <= stage <= len(stages):
            return {"stage_name": "", "stage_what": "", "stage_due": ""}
        current = stages[stage - 1]
        return {"stage_name": current.name, "stage_what": current.what, "stage_due": str(details.get("stage_due", ""))}

    async def offer_disagreement(self, session: AsyncSession, origin: FollowUp, now: datetime, reason: str) -> FollowUp:
        """After 'not received' or 'could not confirm': offer the sender the local escalation route."""
        fu = _asking_the_sender(
            origin, "disagreement", {"stage": 0, "reason": reason, "origin": str(origin.id)}, now, now
        )
        session.add(fu)
        await session.flush()
        await append_event(
            session, fu.check_id, "disagreement_offered", ACTOR_SYSTEM, now, {"follow_up": str(fu.id), "reason": reason}
        )
        return fu

    async def start_disagreement(
        self, actor: Actor, check_id: uuid.UUID | None = None, *, case_reference: str | None = None
    ) -> AnswerResult:
        """The practitioner disagrees with how a share was handled (for example the recipient's response):
        start the local route at stage 1 now, for one of their checks or their latest share for a case.

        A route already offered is started rather than offered again; one already under way is not restarted.
        """
        if check_id is None and not case_reference:
            raise ValueError("Name the check or the case reference.")
        now = self._clock.now()
        async with self._sessions.begin() as session:
            query = select(FollowUp).where(
                FollowUp.platform == actor.platform,
                FollowUp.workspace_id == actor.workspace_id,
                FollowUp.sender_id == actor.user_id,
                FollowUp.kind.in_(ESCALATING_KINDS),
            )
            if check_id is not None:
                query = query.where(FollowUp.check_id == check_id)
            else:
                query = query.where(FollowUp.case_reference == case_reference)
            # locked, so two 'disagree' commands at once start one route, not two
            origin = await session.scalar(query.order_by(FollowUp.created_at.desc()).limit(1).with_for_update())
            if origin is None:
                raise FollowUpNotFound(
                    "You have no share with a follow-up for that case: the disagreement route starts from a share "
                    "you recorded with ShareCheck."
                )
            route = await session.scalar(
                select(FollowUp)
                .where(
                    FollowUp.check_id == origin.check_id,
                    FollowUp.kind == "disagreement",
                    FollowUp.state.in_(OPEN_STATES),
                )
                .order_by(FollowUp.created_at.desc())
                .limit(1)
                .with_for_update()
            )
            if route is not None and int((route.details or {}).get("stage", 0)) >= 1:
                return AnswerResult(False, self._info(route, self.content.notices.disagreement_under_way))
            if route is None:
                route = await self.offer_disagreement(
                    session, origin, now, "the practitioner disagrees with the response"
                )
            reply = await self._next_stage(session, route, now, actor)
        return AnswerResult(True, reply)

    def open_prompts(self, follow_ups: list[FollowUp]) -> list[FollowUpPrompt]:
        """The questions these follow-ups ask now, as the person asked would see them (a console's inbox)."""
        return [self._prompt(fu, self._question(fu), nudge=fu.nudges > 0) for fu in follow_ups]

    async def asked_of(self, actor: Actor) -> list[FollowUp]:
        """Follow-ups put to this person and still open (asked, nudged or escalated), oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(FollowUp)
                .where(
                    FollowUp.platform == actor.platform,
                    FollowUp.workspace_id == actor.workspace_id,
                    FollowUp.target_id == actor.user_id,
                    FollowUp.state.in_(("awaiting", "escalated")),
                )
                .order_by(FollowUp.created_at)
            )
            return list(rows)

    async def _next_stage(self, session: AsyncSession, fu: FollowUp, now: datetime, actor: Actor) -> Info:
        notices = self.content.notices
        stages = self._settings.sharecheck_escalation_stages
        stage = int((fu.details or {}).get("stage", 0)) + 1
        if stage > len(stages):
            fu.state = "unresolved"
            fu.due_at = None
            await self._escalate(session, fu, now, "disagreement_unresolved")
            fu.state = "unresolved"
            values = self._values(fu)
            return Info(
                title=self._question(fu).title.format(**values),
                lines=(notices.disagreement_unresolved.format(**values),),
            )
        tz = await self._zone(session, fu.platform, fu.workspace_id, fu.sender_id)
        due = add_working_days(now, stages[stage - 1].working_days)
        due = self._hours.next_open(due, tz)
        fu.details = {**(fu.details or {}), "stage": stage, "stage_due": due.astimezone(tz).strftime("%a %d %b %Y")}
        fu.state = "scheduled"  # the stage prompt goes out when it is due
        fu.due_at = due
        fu.answered_at = None
        values = self._values(fu)
        await append_event(
            session,
            fu.check_id,
            "disagreement_stage",
            str(actor),
            now,
            {"follow_up": str(fu.id), "stage": stage, "due": due.isoformat()},
        )
        if stages[stage - 1].tell_lead:
            lead = await self._lead(session, fu)
            if lead is not None:
                await self._queue(
                    session,
                    fu,
                    lead,
                    "disagreement",
                    Info(
                        title=self._question(fu).title.format(**values),
                        lines=(notices.disagreement_lead.format(**values),),
                    ),
                    now,
                )
        return Info(
            title=self._question(fu).title.format(**values), lines=(notices.disagreement_started.format(**values),)
        )

    async def _escalate(self, session: AsyncSession, fu: FollowUp, now: datetime, reason: str, **extra: str) -> None:
        notices = self.content.notices
        values = self._values(fu, trail=await self._trail(session, fu), **extra)
        body = {
            "overdue": notices.escalation_overdue,
            "not_received": notices.escalation_not_received,
            "could_not_confirm": notices.escalation_could_not_confirm,
            "undeliverable": notices.escalation_undeliverable,
            "disagreement_unresolved": notices.disagreement_unresolved,
            "no_information": self.content.receipt.escalation_no_information,
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

    async def undeliverable(
        self, session: AsyncSession, follow_up_id: uuid.UUID, now: datetime, reason: str, *, ours: bool = False
    ) -> None:
        """The person asked cannot be reached: close the loop openly, never silently.

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
        if fu.target_id != fu.sender_id:
            fu.state = "undeliverable"
            values = self._values(fu)
            notices = self.content.notices
            await self._queue(
                session,
                fu,
                fu.sender_id,
                "undeliverable",
                Info(
                    title=self.content.recipient_confirm.title,
                    lines=((notices.undeliverable_ours if ours else notices.undeliverable).format(**values),),
                ),
                now,
            )
            if fu.kind == "recipient_confirm":
                await self._ask_sender_instead(session, fu, now)
        else:
            fu.details = {**(fu.details or {}), "undelivered": True}
            await self._escalate(session, fu, now, "undeliverable")
            fu.state = "escalated"  # still answerable, and still in the sender's pending

    async def _ask_sender_instead(self, session: AsyncSession, origin: FollowUp, now: datetime) -> None:
        """The recipient could not be asked: the sender is, now, as for a recipient outside the workspace."""
        tz = await self._zone(session, origin.platform, origin.workspace_id, origin.sender_id)
        # at least a working day to answer before the lead is told, even when the original deadline has passed
        escalate_at = max(origin.escalate_at, self._hours.next_open(now + self._settings.sharecheck_nudge_every, tz))
        fu = _asking_the_sender(origin, "sender_confirm", {"instead_of": str(origin.id)}, now, escalate_at)
        session.add(fu)
        await session.flush()
        await append_event(
            session,
            fu.check_id,
            "follow_up_scheduled",
            ACTOR_SYSTEM,
            now,
            {
                "follow_up": str(fu.id),
                "kind": fu.kind,
                "target": fu.target_id,
                "due": now.isoformat(),
                "instead_of": str(origin.id),
            },
        )

    # --- answers --------------------------------------------------------------------------

    async def answer(
        self,
        actor: Actor,
        follow_up_id: uuid.UUID,
        choice: str,
        note: str | None = None,
        *,
        confirm_personal_data: bool = False,
    ) -> AnswerResult:
        """A one-click answer from the person asked. Pressing twice, or on an old message, changes nothing.

        A note goes through the same personal-data guard as a typed check answer: refused with a warning
        (NotePersonalData, recorded on the trail) unless ``confirm_personal_data``.
        """
        found = scan(note)
        kinds = tuple(f.kind for f in found)
        if found and not confirm_personal_data and await self._note_warned(actor, follow_up_id, choice, kinds):
            raise NotePersonalData(note_warning(found), kinds)
        now = self._clock.now()
        notices = self.content.notices
        async with self._sessions.begin() as session:
            fu = await _addressed_to(session, actor, follow_up_id, lock=True)
            question = self._question(fu)
            if choice not in {c.id for c in question.choices}:
                raise ValueError("That is not one of the answers to this follow-up.")
            note = _plain(note.strip())[:1000] if note and note.strip() else None
            if choice in question.note_required and not note:
                raise NoteRequired(question.note_prompt)
            values = self._values(fu, note=typed(note) if note else "")
            if fu.state not in OPEN_STATES:
                answered = fu.answered_at.strftime("%d %b %Y %H:%M UTC") if fu.answered_at else "earlier"
                return AnswerResult(False, self._info(fu, notices.already_answered, answered_on=answered))
            await append_event(
                session,
                fu.check_id,
                "follow_up_answered",
                str(actor),
                now,
                {"follow_up": str(fu.id), "answer": choice, **_noted(note, kinds)},
            )
            fu.updated_at = now
            fu.version += 1
            if choice == "remind_me":
                tz = await self._zone(session, fu.platform, fu.workspace_id, fu.target_id)
                fu.state = "awaiting"
                fu.due_at = self._hours.next_open(now + self._settings.sharecheck_nudge_every, tz)
                return AnswerResult(True, self._info(fu, notices.remind_later))
            fu.answered_at = now
            fu.due_at = None
            reply = notices.thanks
            if choice in ("understood", "confirmed"):
                fu.state = "confirmed"
                if fu.kind == "recipient_confirm":
                    await self._notify_sender(session, fu, notices.confirmed.format(**values), now, can_disagree=True)
                else:
                    reply = notices.sender_confirmed
            elif choice == "clarification":
                fu.state = "clarification"
                await self._notify_sender(session, fu, notices.clarification.format(**values), now, can_disagree=True)
            elif choice == "not_received":
                fu.state = "not_received"
                await self._notify_sender(session, fu, notices.not_received.format(**values), now)
                await self._escalate_now(session, fu, now, "not_received")
                await self.offer_disagreement(session, fu, now, "the recipient says it has not arrived")
            elif choice == "could_not_confirm":
                fu.state = "could_not_confirm"
                await self._escalate_now(session, fu, now, "could_not_confirm")
                await self.offer_disagreement(session, fu, now, "you could not confirm it")
            elif choice in ("start", "next_stage"):
                return AnswerResult(True, await self._next_stage(session, fu, now, actor))
            elif choice in ("not_needed", "resolved"):
                fu.state = "resolved"
                reply = notices.disagreement_resolved
            elif choice == "told":
                fu.state = "told"
                reply = notices.told_requester
            elif fu.kind == "advice":
                fu.state = "advised"
                label = next(c.label for c in question.choices if c.id == choice)
                # kept on the follow-up for the case notes when the check completes
                fu.details = {**(fu.details or {}), "advice": label, "advice_note": note, "advised_at": now.isoformat()}
                advice = notices.advice_given.format(
                    **values | {"advice": label, "note": f"“{typed(note)}” " if note else ""}
                )
                title = notices.advice_title.format(**values)
                await self._queue(session, fu, fu.sender_id, "notice", Info(title=title, lines=(advice,)), now)
                await append_event(
                    session,
                    fu.check_id,
                    "advice_given",
                    str(actor),
                    now,
                    {"follow_up": str(fu.id), "advice": choice, **_noted(note, kinds)},
                )
            info = self._info(fu, reply, note=typed(note) if note else "")
            if fu.kind == "sender_confirm" and fu.state == "confirmed":
                info = info.model_copy(update={"lines": (*info.lines, self._disagree_hint(fu))})
            return AnswerResult(True, info)

    async def _note_warned(self, actor: Actor, follow_up_id: uuid.UUID, choice: str, kinds: tuple[str, ...]) -> bool:
        """Record the warning about a note (its kinds, never the text) in a transaction of its own, as a check
        answer's is; False when the answer would be refused or ignored anyway (the answer path says why)."""
        async with self._sessions.begin() as session:
            fu = await _addressed_to(session, actor, follow_up_id, lock=False)
            if fu.state not in OPEN_STATES or choice not in {c.id for c in self._question(fu).choices}:
                return False
            await append_event(
                session,
                fu.check_id,
                "personal_data_warning",
                str(actor),
                self._clock.now(),
                {"follow_up": str(fu.id), "field": "note", "kinds": list(kinds)},
            )
            return True

    async def answer_from_receipt(
        self,
        session: AsyncSession,
        follow_up_id: uuid.UUID,
        choice: str,
        note: str | None,
        name: str,
        organisation: str,
        now: datetime,
    ) -> None:
        """A recipient outside the workspace answered on the receipt page (inside the caller's transaction).

        The sender_confirm follow-up moves as the recipient's chat buttons move a recipient_confirm one:
        the sender is told at once, 'no information' goes to the lead with the disagreement offer, and a
        confirmation closes the loop so no nudge follows. 'Received' alone tells the sender but leaves
        their own question open: arrival is not understanding.
        """
        if choice not in RECEIPT_ANSWERS:
            raise ValueError("That is not one of the answers on the receipt page.")
        wording = self.content.receipt
        fu = await session.get(FollowUp, follow_up_id, with_for_update=True)
        if fu is None:
            raise FollowUpNotFound("No such follow-up.")
        note = _plain(note.strip())[:1000] if note and note.strip() else None
        if choice == "clarification" and not note:
            raise NoteRequired("Say what is unclear.")
        name, organisation = _plain(name.strip())[:100], _plain(organisation.strip())[:150]
        await append_event(
            session,
            fu.check_id,
            "follow_up_answered",
            ACTOR_RECEIPT,
            now,
            {
                "follow_up": str(fu.id),
                "answer": choice,
                "via": "receipt_link",
                "recipient_name": name,
                "recipient_organisation": organisation,
                **({"note": note} if note else {}),
            },
        )
        respondent = f"“{typed(name)}, {typed(organisation)}”"
        values = self._values(fu, note=typed(note) if note else "", respondent=respondent)
        values["next_step"] = wording.next_step.format(**values) if note else ""
        # a late answer (the sender already closed the loop in chat) is still recorded and told,
        # but does not reopen or rewrite the follow-up's outcome
        open_ = fu.state in OPEN_STATES
        if open_ and choice != "received":
            fu.answered_at = now
            fu.due_at = None
            fu.updated_at = now
            fu.version += 1
        if choice == "understood":
            if open_:
                fu.state = "confirmed"
            await self._notify_sender(session, fu, wording.understood.format(**values), now, can_disagree=True)
        elif choice == "received":
            await self._notify_sender(session, fu, wording.received.format(**values), now, can_disagree=True)
        elif choice == "clarification":
            if open_:
                fu.state = "clarification"
            await self._notify_sender(session, fu, wording.clarification.format(**values), now, can_disagree=True)
        elif open_:
            fu.state = "not_received"
            await self._notify_sender(session, fu, wording.no_information.format(**values), now)
            await self._escalate_now(session, fu, now, "no_information", respondent=respondent)
            await self.offer_disagreement(session, fu, now, wording.disagreement_reason)
        else:
            # the sender already closed the loop in chat: they hear of it (and how to disagree), the lead does
            # not: a late outside answer must not reopen an outcome someone inside already settled
            await self._notify_sender(
                session, fu, wording.no_information_closed.format(**values), now, can_disagree=True
            )

    async def _escalate_now(
        self, session: AsyncSession, fu: FollowUp, now: datetime, reason: str, **extra: str
    ) -> None:
        state = fu.state
        await self._escalate(session, fu, now, reason, **extra)
        fu.state = state  # keep the answer as the state; the escalation is in the trail

    async def _notify_sender(
        self, session: AsyncSession, fu: FollowUp, text: str, now: datetime, *, can_disagree: bool = False
    ) -> None:
        values = self._values(fu)
        title = self._question(fu).title.format(**values)
        lines = (text, self._disagree_hint(fu)) if can_disagree else (text,)
        await self._queue(session, fu, fu.sender_id, "notice", Info(title=title, lines=lines), now)

    def _disagree_hint(self, fu: FollowUp) -> str:
        """How to start the disagreement route about a response, as a line under the response."""
        return self.content.notices.disagreement_hint.format(**self._values(fu))

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
            follow_ups = list(rows)
            # asked, but the question has not gone out yet: the platform failed and the scheduler is retrying
            retrying = set(
                await session.scalars(
                    select(OutboxMessage.follow_up_id).where(
                        OutboxMessage.follow_up_id.in_([fu.id for fu in follow_ups]),
                        OutboxMessage.purpose.in_(("ask", "nudge")),
                        OutboxMessage.status == "queued",
                        OutboxMessage.attempts > 0,
                    )
                )
            )
            items = []
            for fu in follow_ups:
                if fu.kind == "advice":
                    role = "you are asked to advise" if fu.target_id == actor.user_id else "waiting for your lead"
                else:
                    role = "you are asked to confirm" if fu.target_id == actor.user_id else "waiting for the recipient"
                when = f", next reminder {fu.due_at:%d %b %H:%M} UTC" if fu.due_at else ""
                state = {
                    "scheduled": "not yet sent",
                    "awaiting": "awaiting an answer",
                    "escalated": "escalated to the lead",
                }[fu.state]
                details = fu.details or {}
                if fu.id in retrying:
                    state = "not delivered yet, ShareCheck is retrying"
                elif details.get("undelivered"):
                    state = f"ShareCheck could not send it to you, {state}"
                elif details.get("instead_of"):
                    state = f"ShareCheck could not reach the recipient, so you are asked; {state}"
                title = self._question(fu).title.format(**self._values(fu))
                items.append(
                    PendingItem(
                        kind="follow_up",
                        case_reference=fu.case_reference,
                        status=f"{title}: {state} ({role}{when})",
                        check_id=str(fu.check_id),
                    )
                )
            return items

    # --- helpers ------------------------------------------------------------------------

    async def _queue(
        self, session: AsyncSession, fu: FollowUp, user_id: str, purpose: str, message: Outbound, now: datetime
    ) -> None:
        session.add(OutboxMessage(**self._outbox_row(fu, user_id, purpose, message, now)))

    @staticmethod
    def _outbox_row(fu: FollowUp, user_id: str, purpose: str, message: Outbound, now: datetime) -> dict[str, Any]:
        return {
            "id": uuid.uuid4(),
            "platform": fu.platform,
            "workspace_id": fu.workspace_id,
            "user_id": user_id,
            "purpose": purpose,
            "follow_up_id": fu.id,
            "message": message.model_dump(mode="json"),
            "status": "queued",
            "attempts": 0,
            "due_at": now,
            "created_at": now,
        }

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


def _asking_the_sender(
    origin: FollowUp, kind: str, details: dict[str, Any], now: datetime, escalate_at: datetime
) -> FollowUp:
    """A follow-up that comes of ``origin`` and asks its sender: the disagreement route, or confirming receipt
    another way when the recipient could not be reached. Due at once; it carries the origin's details."""
    return FollowUp(
        id=uuid.uuid4(),
        check_id=origin.check_id,
        platform=origin.platform,
        workspace_id=origin.workspace_id,
        kind=kind,
        sender_id=origin.sender_id,
        target_id=origin.sender_id,
        case_reference=origin.case_reference,
        details={**(origin.details or {}), **details},
        state="scheduled",
        due_at=now,
        escalate_at=escalate_at,
        nudges=0,
        created_at=now,
        updated_at=now,
    )


async def _addressed_to(session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, lock: bool) -> FollowUp:
    """The follow-up ``actor`` was asked (in their own workspace), locked for the answer when ``lock``."""
    query = select(FollowUp).where(
        FollowUp.id == follow_up_id,
        FollowUp.platform == actor.platform,
        FollowUp.workspace_id == actor.workspace_id,
        FollowUp.target_id == actor.user_id,
    )
    fu = await session.scalar(query.with_for_update() if lock else query)
    if fu is None:
        raise FollowUpNotFound("No such follow-up for you.")
    return fu
