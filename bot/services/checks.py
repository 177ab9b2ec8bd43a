"""Running share-checks: the engine's moves, persisted after every step, with their event trail.

Every adapter (console, Slack, Teams) calls this service; none of them touches the engine or the
database directly. Each move is one transaction guarded by the check's revision, so a double
click, a platform retry or two instances answering at once can never advance a check twice.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Check
from bot.db.transactions import ShortTransactions
from bot.metrics import CHECKS_FINISHED, CHECKS_STARTED
from bot.packs import PackRegistry
from bot.services.records import (
    NUMBER_NEXT_EVENT,
    NUMBERED,
    Chain,
    append_event,
    insert_prepared,
    prepare_event,
    start_trail,
    write_event,
)
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
from dialogs.messages import Completion, LinkView, Message, PendingItem, PendingList, Prompt
from dialogs.record import RecordSnapshot, build_snapshot
from dialogs.state import Answer, DialogState, Status

log = logging.getLogger(__name__)


SELF_RECIPIENT = (
    "You cannot name yourself as the recipient: the follow-up asks the recipient to confirm it arrived. "
    "Name the colleague who receives it, or type their organisation and role."
)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of one workspace (Slack team, Teams tenant) on one platform."""

    platform: str
    workspace_id: str
    user_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace_id}:{self.user_id}"


class Outcome(enum.StrEnum):
    STARTED = "started"
    RESUMED = "resumed"
    ADVANCED = "advanced"
    REFUSED = "refused"
    """The answer was not accepted; the message is the same step with the reason in its notice."""
    STALE = "stale"
    """The request was for a step or revision already passed (double click, retry): nothing changed."""
    CLOSED = "closed"


@dataclass(frozen=True)
class Reply:
    check_id: uuid.UUID
    outcome: Outcome
    message: Message
    error: str | None = None


class CheckNotFound(LookupError):
    """No such check for this actor (never reveals whether it exists for someone else)."""


@dataclass(frozen=True)
class CompletionExtras:
    """What a completion hook adds to the practitioner's Completion message.

    Hooks run inside the completing transaction, so something they create there (a receipt link whose
    token exists only in memory) can reach the practitioner only through the message returned now.
    """

    covering_note_lines: tuple[str, ...] = ()
    """Appended to the covering note (the text the practitioner sends to the recipient)."""
    case_note_lines: tuple[str, ...] = ()
    """Appended to the case notes (for example the lead's advice given during the check)."""
    links: tuple[LinkView, ...] = ()
    next_steps: tuple[str, ...] = ()


CompletionHook = Callable[[AsyncSession, Check, RecordSnapshot, "Actor"], Awaitable[CompletionExtras | None]]
PendingSource = Callable[["Actor"], Awaitable[list[PendingItem]]]
ActionHook = Callable[[AsyncSession, Check, DialogState, str, "Actor"], Awaitable[str | None]]
"""Runs when an answer carries an action (e.g. 'ask_lead'); may return a notice for the practitioner."""


LIVE_CHECKS = 4096
"""How many active checks an instance keeps the last state of (least recently moved dropped first)."""


@dataclass(frozen=True)
class _Live:
    """The state an instance last wrote or read for an active check: the next move can start from it without
    a read. Only a hint: the write is guarded by this revision, and anything but a plain step re-reads."""

    owner: Actor
    pack_id: str
    state: DialogState
    stored: dict[str, Any] | None = None
    """``state`` as written to the row (model_dump(mode="json")), when this instance wrote it: the next step's
    guard compares the row with it, so the state is not dumped a second time."""
    chain: Chain | None = None
    """Where the check's trail ended when this instance wrote it, when known: the next step's event is then
    written without numbering it first (the step's UPDATE is guarded by it, so a stale hint writes nothing)."""


_CHECKS = cast(Table, Check.__table__)
_STEP_WHERE = (
    _CHECKS.c.id == bindparam("b_id"),
    _CHECKS.c.platform == bindparam("b_platform"),
    _CHECKS.c.workspace_id == bindparam("b_workspace"),
    _CHECKS.c.user_id == bindparam("b_user"),
    _CHECKS.c.revision == bindparam("b_revision"),
    _CHECKS.c.state == bindparam("b_state"),
)
_STEP_VALUES: dict[str, Any] = {
    "state": bindparam("state"),
    "revision": bindparam("revision"),
    "updated_at": bindparam("updated_at"),
}
# A plain step, built once: a Core statement on the table skips the ORM's bulk-update path and building a new
# statement (and its cache key) per move. It lands only where the row still holds exactly the state the move was
# computed from (revision and content: even a change made behind the service's back, which does not bump the
# revision, makes it a no-op), and only for the actor's own check, like every read.
_STEP = (
    update(_CHECKS)
    .where(*_STEP_WHERE)
    .values(**_STEP_VALUES, **NUMBER_NEXT_EVENT)
    .returning(*NUMBERED)  # the step's event is numbered by the same statement (records.write_event)
)
_STEP_CHAINED = (
    # the same step where this instance knows where the trail ends: the row moves on to the step's event in
    # this statement, which also requires the trail to end there still, so the event goes in with no read
    update(_CHECKS)
    .where(*_STEP_WHERE, _CHECKS.c.events_seq == bindparam("b_seq"))
    .values(**_STEP_VALUES, events_seq=bindparam("events_seq"), events_hash=bindparam("events_hash"))
)


class CheckService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transactions: ShortTransactions,
        packs: PackRegistry,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._transactions = transactions
        self._packs = packs
        self._clock = clock
        self._on_complete: list[CompletionHook] = []
        self._pending_sources: list[PendingSource] = []
        self._actions: dict[str, ActionHook] = {}
        self._live: OrderedDict[uuid.UUID, _Live] = OrderedDict()

    def on_complete(self, hook: CompletionHook) -> None:
        """Run ``hook`` inside the transaction that records a completed check (follow-ups hang off this)."""
        self._on_complete.append(hook)

    def on_action(self, action: str, hook: ActionHook) -> None:
        self._actions[action] = hook

    def add_pending_source(self, source: PendingSource) -> None:
        """Other services (follow-ups) add their open items to ``pending``."""
        self._pending_sources.append(source)

    def _keep(
        self,
        check_id: uuid.UUID,
        owner: Actor,
        pack_id: str,
        state: DialogState,
        stored: dict[str, Any] | None = None,
        chain: Chain | None = None,
    ) -> None:
        """Remember the state of an active check as it now is in the database (forget a finished one)."""
        if state.status is not Status.ACTIVE:
            self._live.pop(check_id, None)
            return
        held = self._live.get(check_id)
        if held is not None and held.state.revision > state.revision:
            return  # a later move already landed here: never step back to an older state
        self._live[check_id] = _Live(owner, pack_id, state, stored, chain)
        self._live.move_to_end(check_id)
        if len(self._live) > LIVE_CHECKS:
            self._live.popitem(last=False)

    # --- starting and finding ------------------------------------------------------------

    async def start(self, actor: Actor, pack_id: str | None = None, channel_id: str | None = None) -> Reply:
        """Start a check, or return the one already in progress (a practitioner has one at a time).

        ``channel_id`` is where it was asked for (a Slack channel, a Teams team), for leads scoped by channel.
        """
        engine = self._packs.engine(pack_id)
        now = self._clock.now()
        turn = engine.start(now)
        check = _new_check(actor, engine, turn, channel_id, now)
        # no look for a check in progress first: the one-active-check index skips a second one, and that is
        # the rarer case (a practitioner's first /share-check of a piece of work is the usual)
        while (chain := await self._transactions.run(lambda c: _record_start(c, check, actor, engine, now))) is None:
            resumed = await self.resume(actor)
            if resumed is not None:
                return resumed
            # the check in progress finished between the insert and the read: nothing is in the way now
        CHECKS_STARTED.labels(actor.platform).inc()
        check_id: uuid.UUID = check["id"]
        self._keep(check_id, actor, engine.pack.id, turn.state, check["state"], chain)
        return Reply(check_id, Outcome.STARTED, _with_id(turn.message, check_id))

    async def reconsider(
        self, actor: Actor, check_id: uuid.UUID | None = None, case_reference: str | None = None
    ) -> Reply:
        """Reopen a 'not share' decision with new information: a new check for the same case, linked both ways."""
        async with self._sessions() as session:
            query = select(Check).where(
                Check.platform == actor.platform,
                Check.workspace_id == actor.workspace_id,
                Check.user_id == actor.user_id,
                Check.decision == "not_share",
            )
            if check_id is not None:
                query = query.where(Check.id == check_id)
            elif case_reference is not None:
                query = query.where(Check.case_reference == case_reference)
            else:
                raise CheckNotFound("Say which decision to reconsider.")
            old = await session.scalar(query.order_by(Check.finished_at.desc()).limit(1))
        if old is None:
            raise CheckNotFound("No 'do not share' decision of yours matches.")
        refused = await self._busy_elsewhere(actor)
        if refused is not None:
            return refused
        engine = self._packs.engine(old.pack_id)
        now = self._clock.now()
        turn = engine.start(now)
        if old.case_reference and turn.state.step == "case_reference":
            turn = engine.answer(turn.state, Answer(step_id="case_reference", revision=0, text=old.case_reference), now)
        check = _new_check(actor, engine, turn, old.channel_id, now)
        new_id: uuid.UUID = check["id"]
        async with self._sessions.begin() as session:
            link = str(old.id)
            chain = await session.run_sync(
                lambda s: _record_start(s.connection(), check, actor, engine, now, reconsiders=link)
            )
            if chain is not None:
                await append_event(session, old.id, "reconsidered", str(actor), now, {"by": str(new_id)})
        if chain is None:  # another check was started meanwhile
            refused = await self._busy_elsewhere(actor)
            if refused is not None:
                return refused
            return await self.reconsider(actor, old.id)
        CHECKS_STARTED.labels(actor.platform).inc()
        self._keep(new_id, actor, engine.pack.id, turn.state)
        notice = "Reconsidering with new information: this check is linked to the earlier decision."
        return Reply(new_id, Outcome.STARTED, _with_id(engine.view(turn.state, notice), new_id))

    async def _busy_elsewhere(self, actor: Actor) -> Reply | None:
        """The refusal to reconsider while another check is in progress (shown on that check), or None."""
        existing = await self.resume(actor)
        if existing is None:
            return None
        return Reply(
            existing.check_id,
            Outcome.REFUSED,
            existing.message,
            "Finish or cancel the check you have in progress first, then reconsider.",
        )

    async def resume(self, actor: Actor) -> Reply | None:
        async with self._sessions() as session:
            check = await session.scalar(
                select(Check).where(
                    Check.platform == actor.platform,
                    Check.workspace_id == actor.workspace_id,
                    Check.user_id == actor.user_id,
                    Check.status == Status.ACTIVE.value,
                )
            )
        if check is None:
            return None
        engine = self._packs.engine(check.pack_id, check.pack_version)
        state = engine.load(check.state)
        self._keep(check.id, actor, check.pack_id, state)
        notice = "Carrying on with your check in progress." if state.history else None
        return Reply(check.id, Outcome.RESUMED, _with_id(engine.view(state, notice), check.id))

    async def pending(self, actor: Actor) -> PendingList:
        """What is still open for this practitioner (the follow-up service adds its items to this)."""
        items: list[PendingItem] = []
        resumed = await self.resume(actor)
        if resumed is not None and isinstance(resumed.message, Prompt):
            engine_state = resumed.message
            items.append(
                PendingItem(
                    kind="check_in_progress",
                    case_reference=await self._case_reference(resumed.check_id),
                    status=f"check in progress: {engine_state.progress.section}",
                    check_id=str(resumed.check_id),
                )
            )
        for source in self._pending_sources:
            items.extend(await source(actor))
        return PendingList(items=tuple(items))

    async def _case_reference(self, check_id: uuid.UUID) -> str | None:
        async with self._sessions() as session:
            check = await session.get(Check, check_id)
        if check is None:
            return None
        answer = (check.state.get("answers") or {}).get("case_reference") or {}
        text = answer.get("text") if isinstance(answer, dict) else None
        return text if isinstance(text, str) else None

    async def current(self, actor: Actor, check_id: uuid.UUID) -> Reply:
        async with self._sessions() as session:
            check = await self._get(session, actor, check_id)
        engine = self._packs.engine(check.pack_id, check.pack_version)
        return Reply(check.id, Outcome.RESUMED, _with_id(engine.view(engine.load(check.state)), check.id))

    async def snapshot(self, actor: Actor, check_id: uuid.UUID) -> RecordSnapshot | None:
        async with self._sessions() as session:
            check = await self._get(session, actor, check_id)
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

        return await self._move(actor, check_id, "answered", recorded, move)

    async def back(self, actor: Actor, check_id: uuid.UUID, revision: int | None = None) -> Reply:
        return await self._move(
            actor, check_id, "went_back", {}, lambda e, s: e.back(s, self._clock.now()), revision=revision
        )

    async def cancel(self, actor: Actor, check_id: uuid.UUID, revision: int | None = None) -> Reply:
        return await self._move(
            actor, check_id, "cancelled", {}, lambda e, s: e.cancel(s, self._clock.now()), revision=revision
        )

    async def urgent(self, actor: Actor, check_id: uuid.UUID, revision: int | None = None) -> Reply:
        return await self._move(
            actor, check_id, "urgent_exit", {}, lambda e, s: e.urgent(s, self._clock.now()), revision=revision
        )

    async def _move(
        self,
        actor: Actor,
        check_id: uuid.UUID,
        kind: str,
        data: dict[str, Any] | Callable[[DialogState], dict[str, Any]],
        move: Callable[[Engine, DialogState], Turn],
        revision: int | None = None,
    ) -> Reply:
        live = self._live.get(check_id)
        if live is not None and live.owner == actor:
            reply = await self._step_from(live, actor, check_id, kind, data, move, revision)
            if reply is not None:
                return reply
        return await self._move_read(actor, check_id, kind, data, move, revision)

    async def _step_from(
        self,
        live: _Live,
        actor: Actor,
        check_id: uuid.UUID,
        kind: str,
        data: dict[str, Any] | Callable[[DialogState], dict[str, Any]],
        move: Callable[[Engine, DialogState], Turn],
        revision: int | None,
    ) -> Reply | None:
        """A plain step from the state this instance holds: one guarded write, no read. None when the step is
        anything else (stale, refused, finishing, an action) or the row moved on: ``_move_read`` then decides
        from the database, so every outcome but the plain step is exactly what a fresh read gives."""
        engine = self._packs.engine(live.pack_id, live.state.pack_version)
        state = live.state
        if revision is not None and revision != state.revision:
            return None
        try:
            turn = move(engine, state)
        except DialogError:
            return None
        if turn.state == state or turn.state.status is not Status.ACTIVE:
            return None
        if kind == "answered" and _action_of(engine, state, turn.state) is not None:
            return None
        now = turn.state.updated_at
        stored = turn.state.model_dump(mode="json")
        params = {
            "b_id": check_id,
            "b_platform": actor.platform,
            "b_workspace": actor.workspace_id,
            "b_user": actor.user_id,
            "b_revision": state.revision,
            "b_state": live.stored if live.stored is not None else state.model_dump(mode="json"),
            "state": stored,
            "revision": turn.state.revision,
            "updated_at": now,
        }
        payload = data(turn.state) if callable(data) else data
        known = live.chain
        chain: Chain | None
        if known is not None:
            event = prepare_event(check_id, known, kind, str(actor), now, payload)
            chain = Chain(known.events_seq + 1, event["hash"])
            guarded = {
                **params,
                "b_seq": known.events_seq,
                "events_seq": chain.events_seq,
                "events_hash": chain.events_hash,
            }
            if not await self._transactions.run(lambda c: _write_chained(c, guarded, event)):
                chain = None
        else:
            async with self._sessions.begin() as session:
                chain = await _write_numbered(session, params, kind, str(actor), now, payload)
        if chain is None:
            # moved by another instance (or request) since this instance saw it: nothing written here
            self._live.pop(check_id, None)
            return None
        self._keep(check_id, actor, live.pack_id, turn.state, stored, chain)
        return Reply(check_id, Outcome.ADVANCED, _with_id(turn.message, check_id))

    async def _move_read(
        self,
        actor: Actor,
        check_id: uuid.UUID,
        kind: str,
        data: dict[str, Any] | Callable[[DialogState], dict[str, Any]],
        move: Callable[[Engine, DialogState], Turn],
        revision: int | None = None,
    ) -> Reply:
        async with self._sessions.begin() as session:
            check = await self._get(session, actor, check_id)
            engine = self._packs.engine(check.pack_id, check.pack_version)
            try:
                state = engine.load(check.state)
            except CorruptState as exc:
                log.error("check %s has unreadable state; left untouched", check.id)
                self._live.pop(check_id, None)
                raise exc
            self._keep(check.id, actor, check.pack_id, state)
            if revision is not None and revision != state.revision:
                return Reply(check.id, Outcome.STALE, _with_id(engine.view(state), check.id), "That was already done.")
            try:
                turn = move(engine, state)
            except StaleAnswer as exc:
                return Reply(check.id, Outcome.STALE, _with_id(engine.view(state), check.id), str(exc))
            except DialogClosed as exc:
                return Reply(check.id, Outcome.CLOSED, _with_id(engine.view(state), check.id), str(exc))
            except PersonalDataWarning as exc:
                # the warning itself is recorded (which kinds, never the text), even if they then edit
                await append_event(
                    session,
                    check.id,
                    "personal_data_warning",
                    str(actor),
                    self._clock.now(),
                    {"step": state.step, "kinds": list(exc.kinds)},
                )
                message = engine.refused(state, exc, personal_data_warning=True)
                return Reply(check.id, Outcome.REFUSED, _with_id(message, check.id), str(exc))
            except DialogError as exc:
                return Reply(check.id, Outcome.REFUSED, _with_id(engine.refused(state, exc), check.id), str(exc))
            if turn.state == state:
                return Reply(check.id, Outcome.STALE, _with_id(turn.message, check.id))
            now = turn.state.updated_at
            values: dict[str, Any] = {
                "state": turn.state.model_dump(mode="json"),
                "revision": turn.state.revision,
                "status": turn.state.status.value,
                "updated_at": now,
            }
            snapshot = None
            extras: list[CompletionExtras] = []
            if turn.state.status is Status.COMPLETED:
                snapshot = build_snapshot(engine.pack, turn.state)
                values |= {
                    "finished_at": now,
                    "decision": snapshot.decision,
                    "case_reference": snapshot.case_reference,
                    "snapshot": snapshot.model_dump(mode="json"),
                }
            elif turn.state.status is Status.CANCELLED:
                values["finished_at"] = now
            result = await session.execute(
                update(Check)
                .where(Check.id == check.id, Check.revision == state.revision)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                # another request moved this check between our read and write
                await session.rollback()
                self._live.pop(check_id, None)
                return await self._stale(actor, check_id)
            await append_event(session, check.id, kind, str(actor), now, data(turn.state) if callable(data) else data)
            if snapshot is not None:
                await append_event(
                    session,
                    check.id,
                    "completed",
                    str(actor),
                    now,
                    {"decision": snapshot.decision, "immediate_risk": snapshot.immediate_risk},
                )
                for key, value in values.items():
                    setattr(check, key, value)
                for hook in self._on_complete:
                    extra = await hook(session, check, snapshot, actor)
                    if extra is not None:
                        extras.append(extra)
            notice = None
            action = _action_of(engine, state, turn.state) if kind == "answered" else None
            if action is not None and action in self._actions:
                for key, value in values.items():
                    setattr(check, key, value)
                notice = await self._actions[action](session, check, turn.state, state.step or "", actor)
        self._keep(check.id, actor, check.pack_id, turn.state)
        if turn.state.status is not Status.ACTIVE:
            outcome = snapshot.decision if snapshot is not None else "cancelled"
            CHECKS_FINISHED.labels(actor.platform, outcome).inc()
        message = engine.view(turn.state, notice=notice) if notice else turn.message
        return Reply(check.id, Outcome.ADVANCED, _with_id(_with_extras(message, extras), check.id))

    async def _stale(self, actor: Actor, check_id: uuid.UUID) -> Reply:
        reply = await self.current(actor, check_id)
        return Reply(reply.check_id, Outcome.STALE, reply.message, "That was already done.")

    @staticmethod
    async def _get(session: AsyncSession, actor: Actor, check_id: uuid.UUID) -> Check:
        check = await session.scalar(
            select(Check).where(
                Check.id == check_id,
                Check.platform == actor.platform,
                Check.workspace_id == actor.workspace_id,
                Check.user_id == actor.user_id,
            )
        )
        if check is None:
            raise CheckNotFound("No such check for you.")
        return check


def _new_check(actor: Actor, engine: Engine, turn: Turn, channel_id: str | None, now: datetime) -> dict[str, Any]:
    """A new check's column values (inserted by records.start_trail, with its first event)."""
    return {
        "id": uuid.uuid4(),
        "platform": actor.platform,
        "workspace_id": actor.workspace_id,
        "user_id": actor.user_id,
        "channel_id": channel_id,
        "status": Status.ACTIVE.value,
        "pack_id": engine.pack.id,
        "pack_version": engine.pack.version,
        "state": turn.state.model_dump(mode="json"),
        "revision": turn.state.revision,
        "started_at": now,
        "updated_at": now,
    }


async def _write_numbered(
    session: AsyncSession,
    params: dict[str, Any],
    kind: str,
    actor: str,
    now: datetime,
    payload: dict[str, Any] | None,
) -> Chain | None:
    """A plain step's UPDATE (``params`` for _STEP), numbering its event, then the event, where this instance
    does not know where the trail ends; where it now ends, or None (nothing written) when the row has moved on."""
    numbered = (await session.execute(_STEP, params)).one_or_none()
    if numbered is None:
        return None
    events_seq, events_hash = numbered
    _, chain = await write_event(session, params["b_id"], events_seq, events_hash, kind, actor, now, payload)
    return chain


def _write_chained(connection: Connection, guarded: dict[str, Any], event: dict[str, Any]) -> bool:
    """A plain step where this instance knows where the trail ends (``guarded`` for _STEP_CHAINED) and its
    prepared event: False (nothing written) when the row or its trail has moved on. Runs in one short
    transaction (bot.db.transactions)."""
    if connection.execute(_STEP_CHAINED, guarded).rowcount != 1:
        return False
    insert_prepared(connection, event)
    return True


def _record_start(
    connection: Connection, check: dict[str, Any], actor: Actor, engine: Engine, now: datetime, **extra: str
) -> Chain | None:
    """Insert a new check and the first event of its trail (inside the caller's transaction); None, with nothing
    written, when the practitioner has a check in progress."""
    data = {"pack": engine.pack.id, "version": engine.pack.version, **extra}
    return start_trail(connection, check, "started", str(actor), now, data)


def _with_id(message: Message, check_id: uuid.UUID) -> Message:
    return message.model_copy(update={"check_id": str(check_id)})


def _with_extras(message: Message, extras: list[CompletionExtras]) -> Message:
    if not extras or not isinstance(message, Completion):
        return message
    note_lines = [line for extra in extras for line in extra.covering_note_lines]
    note = message.covering_note
    if note_lines:
        note = "\n".join([note, *note_lines]) if note else "\n".join(note_lines)
    case_lines = [line for extra in extras for line in extra.case_note_lines]
    return message.model_copy(
        update={
            "covering_note": note,
            "case_notes": "\n".join([message.case_notes, *case_lines]) if case_lines else message.case_notes,
            "links": (*message.links, *(link for extra in extras for link in extra.links)),
            "next_steps": (*message.next_steps, *(step for extra in extras for step in extra.next_steps)),
        }
    )


def _action_of(engine: Engine, before: DialogState, after: DialogState) -> str | None:
    """The action of the choice just answered, if it has one."""
    step_id = before.step
    if step_id is None or step_id not in after.answers or after.revision == before.revision:
        return None
    step = engine.pack.step(step_id)
    for choice_id in after.answers[step_id].choices:
        choice = step.choice(choice_id)
        if choice is not None and choice.action:
            return choice.action
    return None
