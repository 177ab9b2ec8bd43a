"""Follow-ups as the application uses them: created when a check completes (or when a lead is asked), answered
with one click in chat, the console or on the receipt page, started as a disagreement, and listed.

Each operation is one transaction: the state change (``flows``), the messages it queues in the ``outbox`` and the
events it appends to the check's trail commit together, so a crash can lose neither a state change nor a message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.models import Actor, CompletionExtras, Decision, EventKind
from bot.clock import Clock
from bot.db.models import Check, FollowUp, OutboxMessage
from bot.followups.content import FollowUpContent, followup_content
from bot.followups.flows import Context, Flows, transition
from bot.followups.messaging import FollowUpMessaging, Notice, note_warning, noted, plain, queue
from bot.followups.models import (
    ACTOR_RECEIPT,
    ACTOR_SYSTEM,
    OPEN_STATES,
    QUESTION_PURPOSES,
    SHARE_KINDS,
    AnswerResult,
    FollowUpNotFound,
    Kind,
    NotePersonalData,
    NoteRequired,
    Purpose,
    ReceiptAnswer,
    State,
    Verb,
)
from bot.followups.scheduled import DueFollowUps
from bot.packs import PackRegistry
from bot.services.leads import LeadDirectory
from bot.services.records import append_event
from bot.settings import Settings
from dialogs.messages import FollowUpPrompt, PendingItem
from dialogs.personal_data import scan
from dialogs.record import RecordSnapshot, describe_recipient
from dialogs.state import DialogState
from dialogs.text_safety import typed

PLATFORMS_WITH_DELIVERY = frozenset({"slack", "teams", "console"})
"""Where follow-ups can reach people: pushed by the scheduler, or collected from the console's inbox."""


class FollowUpService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        leads: LeadDirectory,
        packs: PackRegistry,
        content: FollowUpContent | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._leads = leads
        self._hours = settings.working_hours
        self.content = content or followup_content()
        self._packs = packs
        self.messaging = FollowUpMessaging(self.content, settings)
        self.flows = Flows(self.messaging, settings, leads, self._hours)
        self.scheduled = DueFollowUps(sessions, clock, settings, self.flows)
        """What the scheduler runs: due questions, nudges and escalations, and undeliverable questions."""

    # --- creation (runs inside the transaction that completes the check) ------------------

    async def on_check_completed(
        self, session: AsyncSession, check: Check, snapshot: RecordSnapshot, actor: Actor
    ) -> CompletionExtras | None:
        advice = await self._advice_notes(session, check)
        await self._schedule_confirmation(session, check, snapshot)
        await self._schedule_written_confirmation(session, check, snapshot)
        return CompletionExtras(case_note_lines=advice) if advice else None

    async def _advice_notes(self, session: AsyncSession, check: Check) -> tuple[str, ...]:
        """The lead's advice given during the check, for the case notes (the trail has it too)."""
        advised = await session.scalars(
            select(FollowUp)
            .where(FollowUp.check_id == check.id, FollowUp.kind == Kind.ADVICE, FollowUp.state == State.ADVISED)
            .order_by(FollowUp.created_at)
        )
        lines = []
        for fu in advised:
            details = fu.details or {}
            at = datetime.fromisoformat(details["advised_at"]) if details.get("advised_at") else fu.updated_at
            lines.append(self.messaging.advice_case_note(fu, at))
        return tuple(lines)

    async def _schedule_confirmation(self, session: AsyncSession, check: Check, snapshot: RecordSnapshot) -> None:
        """'Received and understood' after a share; 'tell the requester' after not sharing on a request."""
        if check.platform not in PLATFORMS_WITH_DELIVERY:
            return
        answers = {a.step_id: a.choices for a in snapshot.answers}
        kind: Kind | None = None
        target = check.user_id
        if snapshot.decision == Decision.SHARE:
            recipient = snapshot.recipient
            if recipient is not None and recipient.user_id:
                kind, target = Kind.RECIPIENT_CONFIRM, recipient.user_id
            else:
                kind = Kind.SENDER_CONFIRM
        elif (
            snapshot.decision == Decision.NOT_SHARE
            and "asked" in answers.get("request_context", ())
            and "told" not in answers.get("requester_told", ())
        ):
            kind = Kind.TELL_REQUESTER
        if kind is None:
            return
        now = check.finished_at or self._clock.now()
        tz = await self.flows.zone(session, check.platform, check.workspace_id, target)
        details = {
            "method": snapshot.fields.get("method", "an agreed method"),
            "recipient": describe_recipient(snapshot.recipient) if snapshot.recipient else "the recipient",
            "recipient_user": snapshot.recipient.user_id if snapshot.recipient else None,
            "shared_on": now.astimezone(tz).strftime("%d %b %Y"),
        }
        first = self._hours.next_open(now + self._settings.sharecheck_confirm_after, tz)
        escalate_at = now + self._settings.sharecheck_escalate_after
        await self._create(session, check, snapshot, kind, target, details, first, escalate_at, now)

    async def _schedule_written_confirmation(
        self, session: AsyncSession, check: Check, snapshot: RecordSnapshot
    ) -> None:
        """The urgent path: remind the practitioner to confirm the phone referral in writing, within
        SHARECHECK_URGENT_WRITTEN_CONFIRMATION_HOURS; the lead is told if it is not done by then."""
        if not snapshot.immediate_risk or check.platform not in PLATFORMS_WITH_DELIVERY:
            return
        now = check.finished_at or self._clock.now()
        tz = await self.flows.zone(session, check.platform, check.workspace_id, check.user_id)
        deadline = now + timedelta(hours=self._settings.sharecheck_urgent_written_confirmation_hours)
        first = self._hours.next_open(now + self._settings.sharecheck_confirm_after, tz)
        # asked before the deadline where working hours allow, and given at least a nudge period to answer before
        # the lead is told (a referral on a Friday evening is asked about on Monday morning)
        escalate_at = max(deadline, self._hours.next_open(first + self._settings.sharecheck_nudge_every, tz))
        details = {
            "shared_on": now.astimezone(tz).strftime("%d %b %Y"),
            "in_writing_by": deadline.astimezone(tz).strftime("%a %d %b %Y %H:%M"),
        }
        await self._create(
            session, check, snapshot, Kind.WRITTEN_CONFIRMATION, check.user_id, details, first, escalate_at, now
        )

    async def _create(
        self,
        session: AsyncSession,
        check: Check,
        snapshot: RecordSnapshot,
        kind: Kind,
        target: str,
        details: Mapping[str, object],
        first: datetime,
        escalate_at: datetime,
        now: datetime,
    ) -> FollowUp:
        follow_up = FollowUp(
            id=uuid.uuid4(),
            check_id=check.id,
            platform=check.platform,
            workspace_id=check.workspace_id,
            kind=kind,
            sender_id=check.user_id,
            target_id=target,
            case_reference=snapshot.case_reference,
            details=dict(details),
            state=State.SCHEDULED,
            due_at=first,
            escalate_at=escalate_at,
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
            {"follow_up": str(follow_up.id), "kind": kind.value, "target": target, "due": first.isoformat()},
        )
        return follow_up

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
        case_reference = self._packs.engine(check.pack_id, check.pack_version).case_reference(state)
        fu = FollowUp(
            id=uuid.uuid4(),
            check_id=check.id,
            platform=check.platform,
            workspace_id=check.workspace_id,
            kind=Kind.ADVICE,
            sender_id=check.user_id,
            target_id=lead,
            case_reference=case_reference,
            details={"question": self._question_text(check.pack_id, question_step)},
            state=State.AWAITING,
            due_at=None,  # leads are asked once, at once; the practitioner can ask again
            escalate_at=now,
            nudges=0,
            created_at=now,
            updated_at=now,
        )
        session.add(fu)
        await session.flush()
        queue(session, fu, lead, Purpose.ADVICE, self.messaging.prompt(fu, nudge=False), now)
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
        pack = self._packs.pack(pack_id)
        return pack.step(step_id).question if pack.has_step(step_id) else step_id

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
        async with self._sessions.begin() as session:
            fu = await _addressed_to(session, actor, follow_up_id, lock=True)
            question = self.messaging.question(fu)
            if choice not in {c.id for c in question.choices}:
                raise ValueError("That is not one of the answers to this follow-up.")
            verb = Verb(choice)
            note = plain(note.strip())[:1000] if note and note.strip() else None
            if choice in question.note_required and not note:
                raise NoteRequired(question.note_prompt)
            if fu.state not in OPEN_STATES:
                return AnswerResult(False, self.messaging.already_answered(fu))
            await append_event(
                session,
                fu.check_id,
                "follow_up_answered",
                str(actor),
                now,
                {"follow_up": str(fu.id), "answer": verb.value, **noted(note, kinds)},
            )
            fu.updated_at = now
            fu.version += 1
            values = {"note": typed(note)} if note else {"note": ""}
            reply = await self.flows.apply(session, fu, Context(now, str(actor), verb, note, kinds, values))
            assert reply is not None, f"an answer to a {fu.kind} follow-up replies"
            return AnswerResult(True, reply)

    async def _note_warned(self, actor: Actor, follow_up_id: uuid.UUID, choice: str, kinds: tuple[str, ...]) -> bool:
        """Record the warning about a note (its kinds, never the text) in a transaction of its own, as a check
        answer's is; False when the answer would be refused or ignored anyway (the answer path says why)."""
        async with self._sessions.begin() as session:
            fu = await _addressed_to(session, actor, follow_up_id, lock=False)
            if fu.state not in OPEN_STATES or choice not in {c.id for c in self.messaging.question(fu).choices}:
                return False
            await append_event(
                session,
                fu.check_id,
                EventKind.PERSONAL_DATA_WARNING,
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
        their own question open: arrival is not understanding. A late answer (the sender already closed the
        loop in chat) is still recorded and told, but does not reopen or rewrite the follow-up's outcome.
        """
        try:
            answer = ReceiptAnswer(choice)
        except ValueError:
            raise ValueError("That is not one of the answers on the receipt page.") from None
        fu = await session.get(FollowUp, follow_up_id, with_for_update=True)
        if fu is None:
            raise FollowUpNotFound("No such follow-up.")
        note = plain(note.strip())[:1000] if note and note.strip() else None
        if answer is ReceiptAnswer.CLARIFICATION and not note:
            raise NoteRequired("Say what is unclear.")
        name, organisation = plain(name.strip())[:100], plain(organisation.strip())[:150]
        await append_event(
            session,
            fu.check_id,
            "follow_up_answered",
            ACTOR_RECEIPT,
            now,
            {
                "follow_up": str(fu.id),
                "answer": answer.value,
                "via": "receipt_link",
                "recipient_name": name,
                "recipient_organisation": organisation,
                **({"note": note} if note else {}),
            },
        )
        respondent = f"“{typed(name)}, {typed(organisation)}”"
        values = self.messaging.values(fu, note=typed(note) if note else "", respondent=respondent)
        next_step = self.content.receipt.next_step.format(**values) if note else ""
        extra = {"note": values["note"], "respondent": respondent, "next_step": next_step}
        if transition(fu, answer.verb).answers:
            fu.updated_at = now
            fu.version += 1
        await self.flows.apply(session, fu, Context(now, ACTOR_RECEIPT, answer.verb, note, values=extra))

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
                FollowUp.kind.in_(SHARE_KINDS),
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
                    FollowUp.kind == Kind.DISAGREEMENT,
                    FollowUp.state.in_(OPEN_STATES),
                )
                .order_by(FollowUp.created_at.desc())
                .limit(1)
                .with_for_update()
            )
            if route is not None and int((route.details or {}).get("stage", 0)) >= 1:
                return AnswerResult(False, self.messaging.info(route, self.content.notices.disagreement_under_way))
            if route is None:
                route = await self.flows.offer_disagreement(
                    session, origin, now, self.messaging.text(Notice.BECAUSE_DISAGREES)
                )
            reply = await self.flows.apply(session, route, Context(now, str(actor), Verb.START))
            assert reply is not None
        return AnswerResult(True, reply)

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
                        OutboxMessage.purpose.in_(QUESTION_PURPOSES),
                        OutboxMessage.status == "queued",
                        OutboxMessage.attempts > 0,
                    )
                )
            )
            return [self.messaging.pending_item(fu, actor.user_id, retrying=fu.id in retrying) for fu in follow_ups]

    def open_prompts(self, follow_ups: list[FollowUp]) -> list[FollowUpPrompt]:
        """The questions these follow-ups ask now, as the person asked would see them (a console's inbox)."""
        return [self.messaging.prompt(fu, nudge=fu.nudges > 0) for fu in follow_ups]

    async def asked_of(self, actor: Actor) -> list[FollowUp]:
        """Follow-ups put to this person and still open (asked, nudged or escalated), oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(FollowUp)
                .where(
                    FollowUp.platform == actor.platform,
                    FollowUp.workspace_id == actor.workspace_id,
                    FollowUp.target_id == actor.user_id,
                    FollowUp.state.in_((State.AWAITING, State.ESCALATED)),
                )
                .order_by(FollowUp.created_at)
            )
            return list(rows)


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
