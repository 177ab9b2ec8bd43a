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
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Check
from bot.metrics import CHECKS_FINISHED, CHECKS_STARTED
from bot.packs import PackRegistry
from bot.services.records import append_event
from dialogs.engine import CorruptState, DialogClosed, DialogError, Engine, PersonalDataWarning, StaleAnswer, Turn
from dialogs.messages import Message, PendingItem, PendingList, Prompt
from dialogs.record import RecordSnapshot, build_snapshot
from dialogs.state import Answer, DialogState, Status

log = logging.getLogger(__name__)


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
class _Known:
    """A check's state as this instance last read or wrote it (at ``state.revision``)."""

    owner: tuple[str, str, str]
    pack_id: str
    state: DialogState
    stored: dict[str, Any]
    """``state`` as written to the database (its JSON form), kept so a step does not serialise it again."""


KNOWN_MAX = 4096
"""How many checks' states an instance keeps between steps (bounded: memory stays flat as checks grow)."""

CompletionHook = Callable[[AsyncSession, Check, RecordSnapshot, "Actor"], Awaitable[None]]
PendingSource = Callable[["Actor"], Awaitable[list[PendingItem]]]


class CheckService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        packs: PackRegistry,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._packs = packs
        self._clock = clock
        self._on_complete: list[CompletionHook] = []
        self._pending_sources: list[PendingSource] = []
        # Why: reading the check back before every step was the largest single cost of a step. The database
        # stays the source of truth: a step from this cache writes only if the stored revision is still the one
        # cached (another instance's move makes that fail, and the step is redone from a fresh read).
        self._known: OrderedDict[uuid.UUID, _Known] = OrderedDict()

    def on_complete(self, hook: CompletionHook) -> None:
        """Run ``hook`` inside the transaction that records a completed check (follow-ups hang off this)."""
        self._on_complete.append(hook)

    def add_pending_source(self, source: PendingSource) -> None:
        """Other services (follow-ups) add their open items to ``pending``."""
        self._pending_sources.append(source)

    # --- starting and finding ------------------------------------------------------------

    async def start(self, actor: Actor, pack_id: str | None = None, channel_id: str | None = None) -> Reply:
        """Start a check, or return the one already in progress (a practitioner has one at a time).

        ``channel_id`` is where it was asked for (a Slack channel, a Teams team), for leads scoped by channel.
        """
        existing = await self.resume(actor)
        if existing is not None:
            return existing
        engine = self._packs.engine(pack_id)
        now = self._clock.now()
        turn = engine.start(now)
        check = Check(
            id=uuid.uuid4(),
            platform=actor.platform,
            workspace_id=actor.workspace_id,
            user_id=actor.user_id,
            channel_id=channel_id,
            status=Status.ACTIVE.value,
            pack_id=engine.pack.id,
            pack_version=engine.pack.version,
            state=turn.state.model_dump(mode="json"),
            revision=turn.state.revision,
            started_at=now,
            updated_at=now,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(check)
                await session.flush()
                await append_event(
                    session,
                    check.id,
                    "started",
                    str(actor),
                    now,
                    {"pack": engine.pack.id, "version": engine.pack.version},
                )
        except IntegrityError:
            # another request for the same practitioner started one a moment ago: use that one
            resumed = await self.resume(actor)
            if resumed is None:
                raise
            return resumed
        CHECKS_STARTED.labels(actor.platform).inc()
        self._remember(check.id, actor, engine.pack.id, turn.state, check.state)
        return Reply(check.id, Outcome.STARTED, _with_id(turn.message, check.id))

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
        engine = self._packs.engine(check.pack_id)
        state = engine.load(check.state)
        self._remember(check.id, actor, check.pack_id, state)
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
                    status=f"check in progress, {engine_state.progress.label().lower()}",
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
        engine = self._packs.engine(check.pack_id)
        return Reply(check.id, Outcome.RESUMED, _with_id(engine.view(engine.load(check.state)), check.id))

    async def snapshot(self, actor: Actor, check_id: uuid.UUID) -> RecordSnapshot | None:
        async with self._sessions() as session:
            check = await self._get(session, actor, check_id)
        return RecordSnapshot.model_validate(check.snapshot) if check.snapshot else None

    # --- moves ---------------------------------------------------------------------------

    async def answer(self, actor: Actor, check_id: uuid.UUID, answer: Answer) -> Reply:
        def move(engine: Engine, state: DialogState) -> Turn:
            return engine.answer(state, answer, self._clock.now())

        def recorded(new: DialogState) -> dict[str, Any]:
            value = new.answers[answer.step_id]
            return {"step": answer.step_id, **value.model_dump(mode="json", exclude={"at"}, exclude_none=True)}

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
        fast = await self._move_known(actor, check_id, kind, data, move, revision)
        if fast is not None:
            return fast
        async with self._sessions.begin() as session:
            check = await self._get(session, actor, check_id)
            engine = self._packs.engine(check.pack_id)
            try:
                state = engine.load(check.state)
            except CorruptState as exc:
                log.error("check %s has unreadable state; left untouched", check.id)
                raise exc
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
                message = engine.view(state, notice=str(exc), personal_data_warning=True)
                return Reply(check.id, Outcome.REFUSED, _with_id(message, check.id), str(exc))
            except DialogError as exc:
                return Reply(
                    check.id, Outcome.REFUSED, _with_id(engine.view(state, notice=str(exc)), check.id), str(exc)
                )
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
            # the revision guard and the event's number in one statement: one round trip fewer per step
            taken = await session.scalar(
                update(Check)
                .where(Check.id == check.id, Check.revision == state.revision)
                .values(**values, events_seq=Check.events_seq + 1)
                .returning(Check.events_seq)
                .execution_options(synchronize_session=False)
            )
            if taken is None:
                # another request moved this check between our read and write
                await session.rollback()
                return await self._stale(actor, check_id)
            event_data = data(turn.state) if callable(data) else data
            await append_event(session, check.id, kind, str(actor), now, event_data, seq=taken - 1)
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
                    await hook(session, check, snapshot, actor)
        if turn.state.status is not Status.ACTIVE:
            self._known.pop(check.id, None)
            outcome = snapshot.decision if snapshot is not None else "cancelled"
            CHECKS_FINISHED.labels(actor.platform, outcome).inc()
        else:
            self._remember(check.id, actor, check.pack_id, turn.state, values["state"])
        return Reply(check.id, Outcome.ADVANCED, _with_id(turn.message, check.id))

    async def _move_known(
        self,
        actor: Actor,
        check_id: uuid.UUID,
        kind: str,
        data: dict[str, Any] | Callable[[DialogState], dict[str, Any]],
        move: Callable[[Engine, DialogState], Turn],
        revision: int | None,
    ) -> Reply | None:
        """A plain step (the check stays active) from the cached state: one guarded UPDATE and the event.

        None means 'take the full path': nothing cached for this owner, a refusal or a stale answer (the full
        path words and records those), a move that finishes the check (its hooks need the stored row), or the
        stored revision moved on elsewhere. Nothing has been written then.
        """
        known = self._known.get(check_id)
        if known is None or known.owner != (actor.platform, actor.workspace_id, actor.user_id):
            return None
        state = known.state
        if revision is not None and revision != state.revision:
            return None
        engine = self._packs.engine(known.pack_id)
        try:
            turn = move(engine, state)
        except DialogError:
            return None
        if turn.state == state or turn.state.status is not Status.ACTIVE:
            return None
        now = turn.state.updated_at
        new_stored = turn.state.model_dump(mode="json")
        async with self._sessions.begin() as session:
            params = {
                "b_id": check_id,
                "b_revision": state.revision,
                "b_platform": actor.platform,
                "b_workspace": actor.workspace_id,
                "b_user": actor.user_id,
                "b_old_state": known.stored,
                "b_state": new_stored,
                "b_new_revision": turn.state.revision,
                "b_now": now,
            }
            taken = (await session.execute(_STEP, params)).scalar()
            if taken is not None:
                event_data = data(turn.state) if callable(data) else data
                await append_event(session, check_id, kind, str(actor), now, event_data, seq=taken - 1)
        if taken is None:
            self._known.pop(check_id, None)  # moved on elsewhere (or gone): read it afresh
            return None
        self._remember(check_id, actor, known.pack_id, turn.state, new_stored)
        return Reply(check_id, Outcome.ADVANCED, _with_id(turn.message, check_id))

    def _remember(
        self, check_id: uuid.UUID, actor: Actor, pack_id: str, state: DialogState, stored: dict[str, Any] | None = None
    ) -> None:
        if state.status is not Status.ACTIVE:
            self._known.pop(check_id, None)
            return
        owner = (actor.platform, actor.workspace_id, actor.user_id)
        self._known[check_id] = _Known(owner, pack_id, state, stored or state.model_dump(mode="json"))
        self._known.move_to_end(check_id)
        while len(self._known) > KNOWN_MAX:
            self._known.popitem(last=False)

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


def _step_statement() -> Any:
    """A plain step's write, built once: the guarded UPDATE that also numbers the step's event.

    On the table, with bound parameters: building the statement and going through the ORM's bulk-update path on
    every step cost more than running it.
    """
    table = cast(Table, Check.__table__)
    c = table.c
    return (
        update(table)
        .where(
            c.id == bindparam("b_id", type_=c.id.type),
            c.revision == bindparam("b_revision"),
            c.platform == bindparam("b_platform"),
            c.workspace_id == bindparam("b_workspace"),
            c.user_id == bindparam("b_user"),
            c.status == Status.ACTIVE.value,
            # and the stored state is exactly the one cached: the step is then the one a fresh read would make,
            # even if the row was edited outside ShareCheck without a new revision
            c.state == bindparam("b_old_state", type_=c.state.type),
        )
        .values(
            state=bindparam("b_state", type_=c.state.type),
            revision=bindparam("b_new_revision"),
            updated_at=bindparam("b_now", type_=c.updated_at.type),
            events_seq=c.events_seq + 1,
        )
        .returning(c.events_seq)
    )


_STEP = _step_statement()


def _with_id(message: Message, check_id: uuid.UUID) -> Message:
    return message.model_copy(update={"check_id": str(check_id)})
