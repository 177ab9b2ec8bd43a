"""The follow-up state machine: one table of every transition, and what each of its effects does.

``TABLE`` maps (kind, state, verb) to the state a follow-up moves to and the effects that go with it: who is
told, whether the lead is, what is scheduled next. A (kind, state, verb) missing from it is not allowed. The
answers a person can give are the choices in bot/content/followups.yaml; tests/service/test_followups.py checks that
the table and the wording agree.

``Flows`` applies a transition inside the caller's transaction: the state change, the messages it queues in the
``outbox`` and the events it appends to the check's trail are committed together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.checks.models import EventKind
from bot.db.models import CheckEvent, FollowUp, PlatformUser
from bot.followups.messaging import FollowUpMessaging, Notice, queue
from bot.followups.models import (
    ACTOR_SYSTEM,
    CLOSED_STATES,
    OPEN_STATES,
    Kind,
    Purpose,
    Reason,
    State,
    Verb,
)
from bot.services.leads import LeadDirectory
from bot.services.records import append_event
from bot.settings import Settings
from bot.working_hours import WorkingHours, zone
from dialogs.messages import Info
from dialogs.record import add_working_days

# --- effects -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """The question is answered: nothing more is scheduled."""


@dataclass(frozen=True)
class RemindLater:
    """Ask again after SHARECHECK_NUDGE_EVERY, in the working hours of the person asked."""


@dataclass(frozen=True)
class AskQuestion:
    """Put the question to the person asked (the scheduler queues it with its batch)."""

    nudge: bool = False


@dataclass(frozen=True)
class TellSender:
    """Tell the practitioner who shared what happened."""

    notice: Notice
    can_disagree: bool = False
    """Add how to start the disagreement route about the response."""


@dataclass(frozen=True)
class Escalate:
    """Tell the lead (with no lead, the sender is told to raise it). The state is the transition's, not this."""

    reason: Reason


@dataclass(frozen=True)
class OfferDisagreement:
    """Offer the sender the local professional-disagreement route, a follow-up of its own."""

    because: Notice


@dataclass(frozen=True)
class NextStage:
    """Move the disagreement route to its next stage, or to 'unresolved' (and the lead) after the last."""


@dataclass(frozen=True)
class RecordAdvice:
    """Keep the lead's advice for the case notes and tell the practitioner whose check waits for it."""


@dataclass(frozen=True)
class DisagreeHint:
    """The reply says how to disagree with the response the sender confirmed."""


@dataclass(frozen=True)
class TellSenderUnreachable:
    """Tell the sender the person asked cannot be reached, and to confirm receipt another way."""


@dataclass(frozen=True)
class AskSenderInstead:
    """The recipient cannot be asked: the sender is, as for a recipient outside the workspace."""


@dataclass(frozen=True)
class MarkUndelivered:
    """The sender's own chat failed: ``pending`` says so."""


Effect = (
    Answered
    | RemindLater
    | AskQuestion
    | TellSender
    | Escalate
    | OfferDisagreement
    | NextStage
    | RecordAdvice
    | DisagreeHint
    | TellSenderUnreachable
    | AskSenderInstead
    | MarkUndelivered
)


@dataclass(frozen=True)
class Transition:
    to: State | None
    """The state after it; None keeps the state (a late answer on the receipt page) or leaves it to the effect
    (the disagreement route's next stage)."""
    effects: tuple[Effect, ...] = ()
    reply: Notice | None = None
    """What the person who answered is told (an answer in chat or the console)."""

    @property
    def answers(self) -> bool:
        return any(isinstance(e, Answered) for e in self.effects)


# --- the table ---------------------------------------------------------------------------------

Kinds = Kind | Iterable[Kind]
States = State | Iterable[State]
Verbs = Verb | Iterable[Verb]

ASKED: Final = (
    Kind.RECIPIENT_CONFIRM,
    Kind.SENDER_CONFIRM,
    Kind.TELL_REQUESTER,
    Kind.DISAGREEMENT,
    Kind.WRITTEN_CONFIRMATION,
)
"""Kinds the scheduler asks (a lead is asked for advice at once, once)."""
RECIPIENT, SENDER, REQUESTER = Kind.RECIPIENT_CONFIRM, Kind.SENDER_CONFIRM, Kind.TELL_REQUESTER
ADVICE, DISAGREEMENT, IN_WRITING = Kind.ADVICE, Kind.DISAGREEMENT, Kind.WRITTEN_CONFIRMATION
ANY_STATE: Final = tuple(State)


def _answer(to: State | None, *effects: Effect, reply: Notice | None = Notice.THANKS) -> Transition:
    return Transition(to, effects, reply)


def _table(*rows: tuple[Kinds, States, Verbs, Transition]) -> Mapping[tuple[Kind, State, Verb], Transition]:
    def each(value: Any) -> tuple[Any, ...]:
        return (value,) if isinstance(value, str) else tuple(value)

    table: dict[tuple[Kind, State, Verb], Transition] = {}
    for kinds, states, verbs, transition in rows:
        for kind in each(kinds):
            for state in each(states):
                for verb in each(verbs):
                    assert (kind, state, verb) not in table, f"two transitions for {kind}, {state}, {verb}"
                    table[(kind, state, verb)] = transition
    return table


TABLE: Final = _table(
    # kind(s)       from          verb(s)                           -> to, effects, reply
    # --- the scheduler -------------------------------------------------------------------------
    (ASKED, State.SCHEDULED, Verb.ASK, Transition(State.AWAITING, (AskQuestion(),))),
    (ASKED, State.AWAITING, Verb.NUDGE, Transition(State.AWAITING, (AskQuestion(nudge=True),))),
    ((RECIPIENT, SENDER), State.AWAITING, Verb.OVERDUE, Transition(State.ESCALATED, (Escalate(Reason.OVERDUE),))),
    (IN_WRITING, State.AWAITING, Verb.OVERDUE, Transition(State.ESCALATED, (Escalate(Reason.NOT_IN_WRITING),))),
    # --- the outbox gave up on the question ----------------------------------------------------
    (
        RECIPIENT,
        OPEN_STATES,
        Verb.UNDELIVERABLE,
        Transition(State.UNDELIVERABLE, (TellSenderUnreachable(), AskSenderInstead())),
    ),
    (
        (SENDER, REQUESTER, ADVICE, DISAGREEMENT, IN_WRITING),
        OPEN_STATES,
        Verb.UNDELIVERABLE,
        Transition(State.UNDELIVERABLE, (TellSenderUnreachable(),)),
    ),
    (
        tuple(Kind),
        OPEN_STATES,
        Verb.SENDER_UNREACHABLE,
        Transition(State.ESCALATED, (MarkUndelivered(), Escalate(Reason.UNDELIVERABLE))),
    ),
    # --- the recipient in the workspace ---------------------------------------------------------
    (RECIPIENT, OPEN_STATES, Verb.UNDERSTOOD, _answer(State.CONFIRMED, Answered(), TellSender(Notice.CONFIRMED, True))),
    (
        RECIPIENT,
        OPEN_STATES,
        Verb.CLARIFICATION,
        _answer(State.CLARIFICATION, Answered(), TellSender(Notice.CLARIFICATION, True)),
    ),
    (
        RECIPIENT,
        OPEN_STATES,
        Verb.NOT_RECEIVED,
        _answer(
            State.NOT_RECEIVED,
            Answered(),
            TellSender(Notice.NOT_RECEIVED),
            Escalate(Reason.NOT_RECEIVED),
            OfferDisagreement(Notice.BECAUSE_NOT_RECEIVED),
        ),
    ),
    # --- the sender, for a recipient outside the workspace ---------------------------------------
    (
        SENDER,
        OPEN_STATES,
        Verb.CONFIRMED,
        _answer(State.CONFIRMED, Answered(), DisagreeHint(), reply=Notice.SENDER_CONFIRMED),
    ),
    (
        SENDER,
        OPEN_STATES,
        Verb.COULD_NOT_CONFIRM,
        _answer(
            State.COULD_NOT_CONFIRM,
            Answered(),
            Escalate(Reason.COULD_NOT_CONFIRM),
            OfferDisagreement(Notice.BECAUSE_COULD_NOT_CONFIRM),
        ),
    ),
    (
        (SENDER, REQUESTER, IN_WRITING),
        OPEN_STATES,
        Verb.REMIND_ME,
        _answer(State.AWAITING, RemindLater(), reply=Notice.REMIND_LATER),
    ),
    # --- the recipient outside, on the receipt page (a late answer is told, never reopens) -----------
    (
        SENDER,
        OPEN_STATES,
        Verb.RECEIPT_UNDERSTOOD,
        _answer(State.CONFIRMED, Answered(), TellSender(Notice.RECEIPT_UNDERSTOOD, True)),
    ),
    (SENDER, CLOSED_STATES, Verb.RECEIPT_UNDERSTOOD, _answer(None, TellSender(Notice.RECEIPT_UNDERSTOOD, True))),
    (SENDER, ANY_STATE, Verb.RECEIPT_RECEIVED, _answer(None, TellSender(Notice.RECEIPT_RECEIVED, True))),
    (
        SENDER,
        OPEN_STATES,
        Verb.RECEIPT_CLARIFICATION,
        _answer(State.CLARIFICATION, Answered(), TellSender(Notice.RECEIPT_CLARIFICATION, True)),
    ),
    (SENDER, CLOSED_STATES, Verb.RECEIPT_CLARIFICATION, _answer(None, TellSender(Notice.RECEIPT_CLARIFICATION, True))),
    (
        SENDER,
        OPEN_STATES,
        Verb.RECEIPT_NO_INFORMATION,
        _answer(
            State.NOT_RECEIVED,
            Answered(),
            TellSender(Notice.RECEIPT_NO_INFORMATION),
            Escalate(Reason.NO_INFORMATION),
            OfferDisagreement(Notice.RECEIPT_BECAUSE),
        ),
    ),
    # the sender already closed it in chat: they hear of it, the lead does not (someone inside settled it)
    (
        SENDER,
        CLOSED_STATES,
        Verb.RECEIPT_NO_INFORMATION,
        _answer(None, TellSender(Notice.RECEIPT_NO_INFORMATION_CLOSED, True)),
    ),
    # --- not sharing after a request ---------------------------------------------------------------
    (REQUESTER, OPEN_STATES, Verb.TOLD, _answer(State.TOLD, Answered(), reply=Notice.TOLD_REQUESTER)),
    # --- the lead's advice during a check --------------------------------------------------------
    (
        ADVICE,
        OPEN_STATES,
        (Verb.SHARE_OK, Verb.DONT_SHARE, Verb.TALK),
        _answer(State.ADVISED, Answered(), RecordAdvice()),
    ),
    # --- professional disagreement --------------------------------------------------------------
    (DISAGREEMENT, OPEN_STATES, (Verb.START, Verb.NEXT_STAGE), _answer(None, NextStage(), reply=None)),
    (
        DISAGREEMENT,
        OPEN_STATES,
        (Verb.NOT_NEEDED, Verb.RESOLVED),
        _answer(State.RESOLVED, Answered(), reply=Notice.DISAGREEMENT_RESOLVED),
    ),
    # --- the urgent path: a phone referral confirmed in writing ----------------------------------
    (
        IN_WRITING,
        OPEN_STATES,
        Verb.IN_WRITING,
        _answer(State.CONFIRMED_IN_WRITING, Answered(), reply=Notice.IN_WRITING_RECORDED),
    ),
    (
        IN_WRITING,
        OPEN_STATES,
        Verb.NOT_NEEDED,
        _answer(State.NOT_NEEDED, Answered(), reply=Notice.IN_WRITING_NOT_NEEDED),
    ),
)

ESCALATING_KINDS: Final = frozenset(kind for kind, _, verb in TABLE if verb is Verb.OVERDUE)
"""Kinds whose silence is told to the lead at ``escalate_at`` (the others are nudged only)."""


class NotAllowed(ValueError):
    """No transition for this verb from where the follow-up stands."""


def transition(fu: FollowUp, verb: Verb) -> Transition:
    found = TABLE.get((Kind(fu.kind), State(fu.state), verb))
    if found is None:
        raise NotAllowed(f"{verb} is not allowed on a {fu.kind} follow-up that is {fu.state}")
    return found


# --- applying a transition ---------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Who or what moved the follow-up, and with what."""

    now: datetime
    actor: str
    verb: Verb
    note: str | None = None
    kinds: tuple[str, ...] = ()
    """The personal-data kinds the note's writer confirmed."""
    values: dict[str, str] = field(default_factory=dict)
    """Extra values for the wording (the note, the receipt page's respondent)."""
    ours: bool = False
    """An undeliverable question was ShareCheck's fault, not the person's."""


class Flows:
    """Applies transitions and their effects to follow-ups, in the caller's transaction."""

    def __init__(
        self, messaging: FollowUpMessaging, settings: Settings, leads: LeadDirectory, hours: WorkingHours
    ) -> None:
        self.messaging = messaging
        self._settings = settings
        self._leads = leads
        self.hours = hours

    async def apply(self, session: AsyncSession, fu: FollowUp, ctx: Context) -> Info | None:
        """Move ``fu`` by ``ctx.verb``; returns the reply for the person who answered (None for the scheduler)."""
        step = transition(fu, ctx.verb)
        if step.to is not None:
            fu.state = step.to
        reply: Info | None = None
        for effect in step.effects:
            match effect:
                case Answered():
                    fu.answered_at = ctx.now
                    fu.due_at = None
                case RemindLater():
                    tz = await self.zone(session, fu.platform, fu.workspace_id, fu.target_id)
                    fu.due_at = self.hours.next_open(ctx.now + self._settings.sharecheck_nudge_every, tz)
                case TellSender(notice=notice, can_disagree=can_disagree):
                    text = self.messaging.text(notice).format(**self.messaging.values(fu, **ctx.values))
                    message = self.messaging.to_sender(fu, text, can_disagree=can_disagree)
                    queue(session, fu, fu.sender_id, Purpose.NOTICE, message, ctx.now)
                case Escalate(reason=reason):
                    await self.escalate(session, fu, ctx.now, reason, **ctx.values)
                case OfferDisagreement(because=because):
                    await self.offer_disagreement(session, fu, ctx.now, self.messaging.text(because))
                case NextStage():
                    reply = await self.next_stage(session, fu, ctx.now, ctx.actor)
                case RecordAdvice():
                    await self._record_advice(session, fu, ctx)
                case TellSenderUnreachable():
                    message = self.messaging.unreachable(fu, ours=ctx.ours)
                    queue(session, fu, fu.sender_id, Purpose.UNDELIVERABLE, message, ctx.now)
                case AskSenderInstead():
                    await self._ask_sender_instead(session, fu, ctx.now)
                case MarkUndelivered():
                    fu.details = {**(fu.details or {}), "undelivered": True}
                case DisagreeHint() | AskQuestion():
                    pass  # the reply's line below; the scheduler's batch queues questions itself
        if step.reply is not None:
            reply = self.messaging.info(fu, self.messaging.text(step.reply), **ctx.values)
            if DisagreeHint() in step.effects:
                reply = reply.model_copy(update={"lines": (*reply.lines, self.messaging.disagree_hint(fu))})
        return reply

    async def _record_advice(self, session: AsyncSession, fu: FollowUp, ctx: Context) -> None:
        label = next(c.label for c in self.messaging.question(fu).choices if c.id == ctx.verb)
        # kept on the follow-up for the case notes when the check completes
        fu.details = {
            **(fu.details or {}),
            "advice": label,
            "advice_note": ctx.note,
            "advised_at": ctx.now.isoformat(),
        }
        queue(session, fu, fu.sender_id, Purpose.NOTICE, self.messaging.advice_given(fu, label, ctx.note), ctx.now)
        data: dict[str, Any] = {"follow_up": str(fu.id), "advice": ctx.verb.value}
        if ctx.note:
            data |= {"note": ctx.note, **({"personal_data": list(ctx.kinds)} if ctx.kinds else {})}
        await append_event(session, fu.check_id, "advice_given", ctx.actor, ctx.now, data)

    async def escalate(self, session: AsyncSession, fu: FollowUp, now: datetime, reason: Reason, **extra: str) -> None:
        """Tell the lead, with the follow-up's trail so far; with no lead, tell the sender to raise it."""
        trail = await self._trail(session, fu)
        lead = await self.lead(session, fu)
        if lead is None:
            message = self.messaging.escalation(fu, reason, trail=trail, to_lead=False, **extra)
            queue(session, fu, fu.sender_id, Purpose.NO_LEAD, message, now)
        else:
            message = self.messaging.escalation(fu, reason, trail=trail, to_lead=True, **extra)
            queue(session, fu, lead, Purpose.ESCALATION, message, now)
        await append_event(
            session,
            fu.check_id,
            "follow_up_escalated",
            ACTOR_SYSTEM,
            now,
            {"follow_up": str(fu.id), "reason": reason.value, "lead": lead},
        )
        fu.escalated_at = now
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
            elif e.kind == EventKind.COMPLETED:
                parts.append(f"decided {e.at:%d %b %H:%M}")
        return "; ".join(parts)

    async def offer_disagreement(self, session: AsyncSession, origin: FollowUp, now: datetime, reason: str) -> FollowUp:
        """After 'not received' or 'could not confirm': offer the sender the local escalation route."""
        fu = asking_the_sender(
            origin, Kind.DISAGREEMENT, {"stage": 0, "reason": reason, "origin": str(origin.id)}, now, now
        )
        session.add(fu)
        await session.flush()
        await append_event(
            session, fu.check_id, "disagreement_offered", ACTOR_SYSTEM, now, {"follow_up": str(fu.id), "reason": reason}
        )
        return fu

    async def next_stage(self, session: AsyncSession, fu: FollowUp, now: datetime, actor: str) -> Info:
        stages = self._settings.sharecheck_escalation_stages
        notices = self.messaging.content.notices
        stage = int((fu.details or {}).get("stage", 0)) + 1
        if stage > len(stages):
            fu.state = State.UNRESOLVED
            fu.due_at = None
            await self.escalate(session, fu, now, Reason.DISAGREEMENT_UNRESOLVED)
            return self.messaging.stage(fu, notices.disagreement_unresolved)
        tz = await self.zone(session, fu.platform, fu.workspace_id, fu.sender_id)
        due = self.hours.next_open(add_working_days(now, stages[stage - 1].working_days), tz)
        fu.details = {**(fu.details or {}), "stage": stage, "stage_due": due.astimezone(tz).strftime("%a %d %b %Y")}
        fu.state = State.SCHEDULED  # the stage prompt goes out when it is due
        fu.due_at = due
        fu.answered_at = None
        await append_event(
            session,
            fu.check_id,
            "disagreement_stage",
            actor,
            now,
            {"follow_up": str(fu.id), "stage": stage, "due": due.isoformat()},
        )
        if stages[stage - 1].tell_lead:
            lead = await self.lead(session, fu)
            if lead is not None:
                message = self.messaging.stage(fu, notices.disagreement_lead)
                queue(session, fu, lead, Purpose.DISAGREEMENT, message, now)
        return self.messaging.stage(fu, notices.disagreement_started)

    async def _ask_sender_instead(self, session: AsyncSession, origin: FollowUp, now: datetime) -> None:
        """The recipient could not be asked: the sender is, now, as for a recipient outside the workspace."""
        tz = await self.zone(session, origin.platform, origin.workspace_id, origin.sender_id)
        # at least a working day to answer before the lead is told, even when the original deadline has passed
        escalate_at = max(origin.escalate_at, self.hours.next_open(now + self._settings.sharecheck_nudge_every, tz))
        fu = asking_the_sender(origin, Kind.SENDER_CONFIRM, {"instead_of": str(origin.id)}, now, escalate_at)
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

    async def lead(self, session: AsyncSession, fu: FollowUp) -> str | None:
        return await self._leads.lead_for(session, fu.platform, fu.workspace_id, fu.sender_id)

    async def zone(self, session: AsyncSession, platform: str, workspace_id: str, user_id: str) -> ZoneInfo:
        tz = await session.scalar(
            select(PlatformUser.tz).where(
                PlatformUser.platform == platform,
                PlatformUser.workspace_id == workspace_id,
                PlatformUser.user_id == user_id,
            )
        )
        return zone(tz, self._settings.sharecheck_default_tz)


def asking_the_sender(
    origin: FollowUp, kind: Kind, details: dict[str, Any], now: datetime, escalate_at: datetime
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
        state=State.SCHEDULED,
        due_at=now,
        escalate_at=escalate_at,
        nudges=0,
        created_at=now,
        updated_at=now,
    )
