"""Where checks are kept: the check's SQL, the state an instance holds for its active checks, and the hash-chain
plumbing that lets a plain step be one guarded write.

Every write is guarded: a plain step lands only where the row still holds exactly the state it was computed from
(and, where this instance knows where the trail ends, only if it still ends there); any other move reads the row
and lands only at the revision it read. So a double click, a platform retry or two instances answering at once
can never advance a check twice, and the held state is only ever a hint.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.messaging import NO_SUCH_CHECK
from bot.checks.models import Actor, CheckNotFound, Decision, EventKind
from bot.db.engine import insert_with_conflicts
from bot.db.models import Check
from bot.db.transactions import ShortTransactions
from bot.services.records import (
    EMPTY,
    NUMBER_NEXT_EVENT,
    NUMBERED,
    Chain,
    append_event,
    insert_prepared,
    prepare_event,
    write_event,
)
from dialogs.record import RecordSnapshot
from dialogs.state import DialogState, Status

LIVE_CHECKS = 4096
"""How many active checks an instance keeps the last state of (least recently moved dropped first)."""


@dataclass(frozen=True)
class Held:
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
_ONE_ACTIVE_INDEX = [_CHECKS.c.platform, _CHECKS.c.workspace_id, _CHECKS.c.user_id]
_ONE_ACTIVE_WHERE = text("status = 'active'")
"""The partial unique index uq_checks_one_active (bot.db.models), named as its own predicate (a bound parameter
would not let PostgreSQL infer the index)."""
_INSERT_CHECK = {
    # a second active check for the same practitioner is skipped, not refused: no error for the database to log
    dialect: insert_with_conflicts(dialect, _CHECKS).on_conflict_do_nothing(
        index_elements=_ONE_ACTIVE_INDEX, index_where=_ONE_ACTIVE_WHERE
    )
    for dialect in ("postgresql", "sqlite")
}


class CheckStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], transactions: ShortTransactions) -> None:
        self._sessions = sessions
        self._transactions = transactions
        self._live: OrderedDict[uuid.UUID, Held] = OrderedDict()

    # --- the state held for active checks -----------------------------------------------------

    def held(self, check_id: uuid.UUID, actor: Actor) -> Held | None:
        """What this instance holds of ``actor``'s active check, if anything (never someone else's)."""
        held = self._live.get(check_id)
        return held if held is not None and held.owner == actor else None

    def remember(
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
        self._live[check_id] = Held(owner, pack_id, state, stored, chain)
        self._live.move_to_end(check_id)
        if len(self._live) > LIVE_CHECKS:
            self._live.popitem(last=False)

    def forget(self, check_id: uuid.UUID) -> None:
        self._live.pop(check_id, None)

    # --- new checks ---------------------------------------------------------------------------

    async def insert(
        self,
        actor: Actor,
        pack_id: str,
        pack_version: str,
        state: DialogState,
        channel_id: str | None,
        now: datetime,
        started: dict[str, Any],
        reconsiders: uuid.UUID | None = None,
    ) -> uuid.UUID | None:
        """Insert a new check at ``state`` with the ``started`` event of its trail; its id, or None (nothing
        written) when the practitioner has a check in progress.

        One short transaction; where the new check ``reconsiders`` an earlier one, the same transaction also
        notes on the earlier one's trail which check reconsiders it.
        """
        row = _new_row(actor, pack_id, pack_version, state, channel_id, now)
        check_id: uuid.UUID = row["id"]
        chain: Chain | None
        if reconsiders is None:
            chain = await self._transactions.run(lambda c: _insert_with_first_event(c, row, actor, started))
        else:
            async with self._sessions.begin() as session:
                chain = await session.run_sync(lambda s: _insert_with_first_event(s.connection(), row, actor, started))
                if chain is not None:
                    data = {"by": str(check_id)}
                    await append_event(session, reconsiders, EventKind.RECONSIDERED, str(actor), now, data)
        if chain is None:
            return None
        self.remember(check_id, actor, pack_id, state, row["state"], chain)
        return check_id

    # --- reads ----------------------------------------------------------------------------------

    async def active(self, actor: Actor) -> Check | None:
        """The practitioner's check in progress (one at a time), if any."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Check).where(
                    Check.platform == actor.platform,
                    Check.workspace_id == actor.workspace_id,
                    Check.user_id == actor.user_id,
                    Check.status == Status.ACTIVE.value,
                )
            )

    async def last_not_shared(
        self, actor: Actor, check_id: uuid.UUID | None = None, case_reference: str | None = None
    ) -> Check | None:
        """The practitioner's latest 'do not share' check, of this id or for this case."""
        query = select(Check).where(
            Check.platform == actor.platform,
            Check.workspace_id == actor.workspace_id,
            Check.user_id == actor.user_id,
            Check.decision == Decision.NOT_SHARE,
        )
        if check_id is not None:
            query = query.where(Check.id == check_id)
        elif case_reference is not None:
            query = query.where(Check.case_reference == case_reference)
        async with self._sessions() as session:
            return await session.scalar(query.order_by(Check.finished_at.desc()).limit(1))

    async def get(self, actor: Actor, check_id: uuid.UUID) -> Check:
        """The practitioner's check; CheckNotFound when there is none of theirs by that id."""
        async with self._sessions() as session:
            return await _get(session, actor, check_id)

    # --- moves ----------------------------------------------------------------------------------

    async def step(
        self,
        held: Held,
        check_id: uuid.UUID,
        state: DialogState,
        kind: EventKind,
        payload: dict[str, Any] | None,
    ) -> bool:
        """A plain step from ``held`` to ``state`` (still active), and its event: one guarded write, no read.
        False, with nothing written and nothing held any more, when the row (or its trail) has moved on since
        this instance saw it."""
        actor = held.owner
        now = state.updated_at
        stored = state.model_dump(mode="json")
        params = {
            "b_id": check_id,
            "b_platform": actor.platform,
            "b_workspace": actor.workspace_id,
            "b_user": actor.user_id,
            "b_revision": held.state.revision,
            "b_state": held.stored if held.stored is not None else held.state.model_dump(mode="json"),
            "state": stored,
            "revision": state.revision,
            "updated_at": now,
        }
        known = held.chain
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
            return False
        self.remember(check_id, actor, held.pack_id, state, stored, chain)
        return True

    @asynccontextmanager
    async def moving(self, actor: Actor, check_id: uuid.UUID) -> AsyncIterator[Moving]:
        """One transaction for a move decided from the row as it is now (CheckNotFound when it is not
        ``actor``'s): committed when the block ends, whatever it returns."""
        async with self._sessions.begin() as session:
            yield Moving(self, session, await _get(session, actor, check_id))


class Moving:
    """A move on one check, inside its transaction: the row as read, the guarded write, the trail."""

    def __init__(self, store: CheckStore, session: AsyncSession, check: Check) -> None:
        self._store = store
        self.session = session
        self.check = check
        self._values: dict[str, Any] = {}

    async def write(self, revision: int, state: DialogState, snapshot: RecordSnapshot | None) -> bool:
        """Move the row from ``revision`` to ``state`` (with the record, for a completed check). False, with the
        transaction rolled back and nothing held, when another request moved it since it was read."""
        now = state.updated_at
        values: dict[str, Any] = {
            "state": state.model_dump(mode="json"),
            "revision": state.revision,
            "status": state.status.value,
            "updated_at": now,
        }
        if snapshot is not None:
            values |= {
                "finished_at": now,
                "decision": snapshot.decision,
                "case_reference": snapshot.case_reference,
                "snapshot": snapshot.model_dump(mode="json"),
            }
        elif state.status is Status.CANCELLED:
            values["finished_at"] = now
        result = await self.session.execute(
            update(Check)
            .where(Check.id == self.check.id, Check.revision == revision)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.rollback()
            self._store.forget(self.check.id)
            return False
        self._values = values
        return True

    async def append(self, kind: EventKind, actor: Actor, at: datetime, data: dict[str, Any] | None) -> None:
        """Add an event to the check's trail, in this transaction."""
        await append_event(self.session, self.check.id, kind, str(actor), at, data)

    def written(self) -> Check:
        """The row as ``write`` left it, for hooks that read it (the write itself went round the ORM)."""
        for key, value in self._values.items():
            setattr(self.check, key, value)
        return self.check


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
        raise CheckNotFound(NO_SUCH_CHECK)
    return check


def _new_row(
    actor: Actor, pack_id: str, pack_version: str, state: DialogState, channel_id: str | None, now: datetime
) -> dict[str, Any]:
    """A new check's column values (inserted with its first event by ``_insert_with_first_event``)."""
    return {
        "id": uuid.uuid4(),
        "platform": actor.platform,
        "workspace_id": actor.workspace_id,
        "user_id": actor.user_id,
        "channel_id": channel_id,
        "status": Status.ACTIVE.value,
        "pack_id": pack_id,
        "pack_version": pack_version,
        "state": state.model_dump(mode="json"),
        "revision": state.revision,
        "started_at": now,
        "updated_at": now,
    }


def _insert_with_first_event(
    connection: Connection, check: dict[str, Any], actor: Actor, data: dict[str, Any]
) -> Chain | None:
    """Insert a new check (its column values) with the ``started`` event of its trail; where the trail now
    ends, or None (nothing written) when the practitioner already has an active check (one at a time).

    A new check's trail starts at number 0 from the genesis hash, so the check row goes in already numbered and
    chained: two statements, where inserting it bare and then ``append_event`` takes four. Synchronous, inside
    the caller's transaction (bot.db.transactions).
    """
    event = prepare_event(check["id"], EMPTY, EventKind.STARTED, str(actor), check["started_at"], data)
    chain = Chain(1, event["hash"])
    values = {**check, "events_seq": chain.events_seq, "events_hash": chain.events_hash}
    if connection.execute(_INSERT_CHECK[connection.dialect.name], values).rowcount != 1:
        return None
    insert_prepared(connection, event)
    return chain


async def _write_numbered(
    session: AsyncSession,
    params: dict[str, Any],
    kind: EventKind,
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
