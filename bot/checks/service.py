"""Running share-checks: the engine's moves, persisted after every step, with their event trail.

Each move is one transaction guarded by the check's revision (``store``). A plain step (an answer that moves
the check on, still in progress, with no action) is taken from the state this instance holds when it has it:
one write, no read. Every other outcome (stale, refused, finishing, an action, a check this instance does not
hold) is decided from the row as it is now, so it is exactly what a fresh read gives.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.flows import CheckFlows, action_of
from bot.checks.messaging import (
    ALREADY_DONE,
    CARRYING_ON,
    FINISH_FIRST,
    NO_NOT_SHARE,
    RECONSIDERING,
    SAY_WHICH,
    SELF_RECIPIENT,
    in_progress,
    with_extras,
    with_id,
)
from bot.checks.models import Actor, CheckNotFound, CompletionExtras, EventKind, Outcome, Reply
from bot.checks.store import CheckStore, Held, Moving
from bot.clock import Clock
from bot.db.models import Check
from bot.db.transactions import ShortTransactions
from bot.metrics import CHECKS_FINISHED, CHECKS_STARTED
from bot.packs import PackRegistry
from dialogs.engine import (
    REVIEW,
    CorruptState,
    DialogClosed,
    DialogError,
    Engine,
    InvalidAnswer,
    PersonalDataWarning,
    StaleAnswer,
    Turn,
)
from dialogs.messages import Message, PendingItem, PendingList, Prompt
from dialogs.record import RecordSnapshot, build_snapshot
from dialogs.state import Answer, DialogState, Status

log = logging.getLogger(__name__)

Payload = dict[str, Any] | Callable[[DialogState], dict[str, Any]]
"""A move's event data, or how to make it from the state the move leads to."""
EngineMove = Callable[[Engine, DialogState], Turn]
"""What a move asks of the engine, from the state it starts at."""


class CheckService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transactions: ShortTransactions,
        packs: PackRegistry,
        clock: Clock,
    ) -> None:
        self._packs = packs
        self._clock = clock
        self.store = CheckStore(sessions, transactions)
        self.flows = CheckFlows()

    # --- starting and finding ------------------------------------------------------------

    async def start(self, actor: Actor, pack_id: str | None = None, channel_id: str | None = None) -> Reply:
        """Start a check, or return the one already in progress (a practitioner has one at a time).

        ``channel_id`` is where it was asked for (a Slack channel, a Teams team), for leads scoped by channel.
        """
        engine = self._packs.engine(pack_id)
        now = self._clock.now()
        turn = engine.start(now)
        started = {"pack": engine.pack.id, "version": engine.pack.version}
        # no look for a check in progress first: the one-active-check index skips a second one, and that is
        # the rarer case (a practitioner's first /share-check of a piece of work is the usual)
        while (
            check_id := await self.store.insert(
                actor, engine.pack.id, engine.pack.version, turn.state, channel_id, now, started
            )
        ) is None:
            resumed = await self.resume(actor)
            if resumed is not None:
                return resumed
            # the check in progress finished between the insert and the read: nothing is in the way now
        CHECKS_STARTED.labels(actor.platform).inc()
        return Reply(check_id, Outcome.STARTED, with_id(turn.message, check_id))

    async def reconsider(
        self, actor: Actor, check_id: uuid.UUID | None = None, case_reference: str | None = None
    ) -> Reply:
        """Reopen a 'not share' decision with new information: a new check for the same case, linked both ways."""
        if check_id is None and case_reference is None:
            raise CheckNotFound(SAY_WHICH)
        old = await self.store.last_not_shared(actor, check_id, case_reference)
        if old is None:
            raise CheckNotFound(NO_NOT_SHARE)
        refused = await self._busy_elsewhere(actor)
        if refused is not None:
            return refused
        engine = self._packs.engine(old.pack_id)
        now = self._clock.now()
        turn = engine.start(now)
        if old.case_reference:
            turn = engine.with_case_reference(turn.state, old.case_reference, now)
        started = {"pack": engine.pack.id, "version": engine.pack.version, "reconsiders": str(old.id)}
        new_id = await self.store.insert(
            actor, engine.pack.id, engine.pack.version, turn.state, old.channel_id, now, started, reconsiders=old.id
        )
        if new_id is None:  # another check was started meanwhile
            refused = await self._busy_elsewhere(actor)
            if refused is not None:
                return refused
            return await self.reconsider(actor, old.id)
        CHECKS_STARTED.labels(actor.platform).inc()
        return Reply(new_id, Outcome.STARTED, with_id(engine.view(turn.state, RECONSIDERING), new_id))

    async def _busy_elsewhere(self, actor: Actor) -> Reply | None:
        """The refusal to reconsider while another check is in progress (shown on that check), or None."""
        existing = await self.resume(actor)
        if existing is None:
            return None
        return Reply(existing.check_id, Outcome.REFUSED, existing.message, FINISH_FIRST)

    async def resume(self, actor: Actor) -> Reply | None:
        active = await self._active(actor)
        if active is None:
            return None
        check, engine, state = active
        notice = CARRYING_ON if state.history else None
        return Reply(check.id, Outcome.RESUMED, with_id(engine.view(state, notice), check.id))

    async def pending(self, actor: Actor) -> PendingList:
        """What is still open for this practitioner (the follow-up service adds its items to this)."""
        items: list[PendingItem] = []
        active = await self._active(actor)
        if active is not None:
            check, engine, state = active
            message = engine.view(state)
            if isinstance(message, Prompt):
                items.append(in_progress(check.id, message, engine.case_reference(state)))
        items.extend(await self.flows.pending(actor))
        return PendingList(items=tuple(items))

    async def _active(self, actor: Actor) -> tuple[Check, Engine, DialogState] | None:
        check = await self.store.active(actor)
        if check is None:
            return None
        engine = self._packs.engine(check.pack_id, check.pack_version)
        state = engine.load(check.state)
        self.store.remember(check.id, actor, check.pack_id, state)
        return check, engine, state

    async def current(self, actor: Actor, check_id: uuid.UUID) -> Reply:
        check = await self.store.get(actor, check_id)
        engine = self._packs.engine(check.pack_id, check.pack_version)
        return Reply(check.id, Outcome.RESUMED, with_id(engine.view(engine.load(check.state)), check.id))

    async def snapshot(self, actor: Actor, check_id: uuid.UUID) -> RecordSnapshot | None:
        check = await self.store.get(actor, check_id)
        return RecordSnapshot.model_validate(check.snapshot) if check.snapshot else None

    # --- moves ---------------------------------------------------------------------------

    async def answer(self, actor: Actor, check_id: uuid.UUID, answer: Answer) -> Reply:
        def move(engine: Engine, state: DialogState) -> Turn:
            named = answer.recipient.user_id if answer.recipient is not None else None
            if named is not None and named == actor.user_id and state.step == answer.step_id:
                # the follow-up would ask them to confirm their own share: the loop would prove nothing
                raise InvalidAnswer(SELF_RECIPIENT)
            return engine.answer(state, answer, self._clock.now())

        def recorded(new: DialogState) -> dict[str, Any]:
            if answer.step_id == REVIEW:
                # Save, or the answer to change: the review screen is no step with an answer of its own
                return {"step": REVIEW, "choices": list(answer.choices)}
            value = new.answers[answer.step_id]
            recorded = {"step": answer.step_id, **value.model_dump(mode="json", exclude={"at"}, exclude_none=True)}
            if value.parts:
                # a form: each field's answer goes in the trail, as if each had been a step
                recorded["fields"] = {
                    part: new.answers[part].model_dump(mode="json", exclude={"at"}, exclude_none=True)
                    for part in value.parts
                }
            return recorded

        return await self._move(actor, check_id, EventKind.ANSWERED, recorded, move)

    async def back(self, actor: Actor, check_id: uuid.UUID, revision: int | None = None) -> Reply:
        return await self._move(
            actor, check_id, EventKind.WENT_BACK, {}, lambda e, s: e.back(s, self._clock.now()), revision=revision
        )

    async def cancel(self, actor: Actor, check_id: uuid.UUID, revision: int | None = None) -> Reply:
        return await self._move(
            actor, check_id, EventKind.CANCELLED, {}, lambda e, s: e.cancel(s, self._clock.now()), revision=revision
        )

    async def urgent(self, actor: Actor, check_id: uuid.UUID, revision: int | None = None) -> Reply:
        return await self._move(
            actor, check_id, EventKind.URGENT_EXIT, {}, lambda e, s: e.urgent(s, self._clock.now()), revision=revision
        )

    async def _move(
        self,
        actor: Actor,
        check_id: uuid.UUID,
        kind: EventKind,
        data: Payload,
        move: EngineMove,
        revision: int | None = None,
    ) -> Reply:
        held = self.store.held(check_id, actor)
        if held is not None:
            reply = await self._step_held(held, check_id, kind, data, move, revision)
            if reply is not None:
                return reply
        return await self._move_read(actor, check_id, kind, data, move, revision)

    async def _step_held(
        self, held: Held, check_id: uuid.UUID, kind: EventKind, data: Payload, move: EngineMove, revision: int | None
    ) -> Reply | None:
        """A plain step from the state this instance holds. None when the step is anything else (stale, refused,
        finishing, an action) or the row moved on: ``_move_read`` then decides from the database."""
        engine = self._packs.engine(held.pack_id, held.state.pack_version)
        state = held.state
        if revision is not None and revision != state.revision:
            return None
        try:
            turn = move(engine, state)
        except DialogError:
            return None
        if turn.state == state or turn.state.status is not Status.ACTIVE:
            return None
        if kind is EventKind.ANSWERED and action_of(engine, state, turn.state) is not None:
            return None
        if not await self.store.step(held, check_id, turn.state, kind, _payload(data, turn.state)):
            return None
        return Reply(check_id, Outcome.ADVANCED, with_id(turn.message, check_id))

    async def _move_read(
        self, actor: Actor, check_id: uuid.UUID, kind: EventKind, data: Payload, move: EngineMove, revision: int | None
    ) -> Reply:
        async with self.store.moving(actor, check_id) as tx:
            check = tx.check
            engine = self._packs.engine(check.pack_id, check.pack_version)
            try:
                state = engine.load(check.state)
            except CorruptState:
                log.error("check %s has unreadable state; left untouched", check.id)
                self.store.forget(check_id)
                raise
            self.store.remember(check.id, actor, check.pack_id, state)
            if revision is not None and revision != state.revision:
                return _reply(check.id, Outcome.STALE, engine.view(state), ALREADY_DONE)
            try:
                turn = move(engine, state)
            except StaleAnswer as exc:
                return _reply(check.id, Outcome.STALE, engine.view(state), str(exc))
            except DialogClosed as exc:
                return _reply(check.id, Outcome.CLOSED, engine.view(state), str(exc))
            except PersonalDataWarning as exc:
                # the warning itself is recorded (which kinds, never the text), even if they then edit
                warned = {"step": state.step, "kinds": list(exc.kinds)}
                await tx.append(EventKind.PERSONAL_DATA_WARNING, actor, self._clock.now(), warned)
                message = engine.refused(state, exc, personal_data_warning=True)
                return _reply(check.id, Outcome.REFUSED, message, str(exc))
            except DialogError as exc:
                return _reply(check.id, Outcome.REFUSED, engine.refused(state, exc), str(exc))
            if turn.state == state:
                return _reply(check.id, Outcome.STALE, turn.message)
            snapshot = build_snapshot(engine.pack, turn.state) if turn.state.status is Status.COMPLETED else None
            landed = await tx.write(state.revision, turn.state, snapshot)
            extras: list[CompletionExtras] = []
            notice = None
            if landed:
                payload = _payload(data, turn.state)
                extras, notice = await self._landed(tx, actor, engine, kind, payload, state, turn.state, snapshot)
        if not landed:  # another request moved this check between our read and write
            return await self._stale(actor, check_id)
        self.store.remember(check.id, actor, check.pack_id, turn.state)
        if turn.state.status is not Status.ACTIVE:
            outcome = snapshot.decision if snapshot is not None else Status.CANCELLED
            CHECKS_FINISHED.labels(actor.platform, outcome).inc()
        message = engine.view(turn.state, notice=notice) if notice else turn.message
        return _reply(check.id, Outcome.ADVANCED, with_extras(message, extras))

    async def _landed(
        self,
        tx: Moving,
        actor: Actor,
        engine: Engine,
        kind: EventKind,
        payload: dict[str, Any],
        before: DialogState,
        after: DialogState,
        snapshot: RecordSnapshot | None,
    ) -> tuple[list[CompletionExtras], str | None]:
        """What follows a move written from a read, in its transaction: its event, and on completion the
        ``completed`` event and the completion hooks; for a choice with an action, the action. What the hooks
        add to the message, and the action's notice."""
        now = after.updated_at
        await tx.append(kind, actor, now, payload)
        extras: list[CompletionExtras] = []
        if snapshot is not None:
            completed = {"decision": snapshot.decision, "immediate_risk": snapshot.immediate_risk}
            await tx.append(EventKind.COMPLETED, actor, now, completed)
            extras = await self.flows.completed(tx.session, tx.written(), snapshot, actor)
        action = action_of(engine, before, after) if kind is EventKind.ANSWERED else None
        notice = None
        if action is not None and self.flows.handles(action):
            notice = await self.flows.act(action, tx.session, tx.written(), after, before.step or "", actor)
        return extras, notice

    async def _stale(self, actor: Actor, check_id: uuid.UUID) -> Reply:
        reply = await self.current(actor, check_id)
        return Reply(reply.check_id, Outcome.STALE, reply.message, ALREADY_DONE)


def _reply(check_id: uuid.UUID, outcome: Outcome, message: Message, error: str | None = None) -> Reply:
    return Reply(check_id, outcome, with_id(message, check_id), error)


def _payload(data: Payload, state: DialogState) -> dict[str, Any]:
    return data(state) if callable(data) else data
