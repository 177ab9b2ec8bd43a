"""The append-only event trail of a check, chained by hash (bot.services.audit_hash)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, case, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Check, CheckEvent
from bot.services.audit_hash import GENESIS, event_hash, has_free_text, new_salt, normalise

_CHECKS = cast(Table, Check.__table__)
_EVENTS = cast(Table, CheckEvent.__table__)
_EVENT_COLUMNS = ("check_id", "seq", "at", "kind", "actor", "data", "salt", "prev_hash", "hash")

# Every event of every check comes through append_event, so its statements are built once, with bound
# parameters: building them per call (and SQLAlchemy deriving each one's cache key) cost more than the SQL.
_NUMBER = (
    update(_CHECKS)
    .where(_CHECKS.c.id == bindparam("n_check"))
    .values(events_seq=_CHECKS.c.events_seq + 1)
    .returning(_CHECKS.c.events_seq, _CHECKS.c.events_hash)
)
"""Numbers the event, locks the check and reads the hash to chain from (RETURNING shows events_hash as this
statement leaves it, which is the previous event's), so concurrent appends queue up behind the row lock."""
_INSERT_PLAIN = insert(_EVENTS).values({c: bindparam(c) for c in _EVENT_COLUMNS})
_INSERT = _INSERT_PLAIN.returning(_EVENTS.c.id)
_KEEP_LAST = update(_CHECKS).where(_CHECKS.c.id == bindparam("k_check")).values(events_hash=bindparam("k_hash"))
_INSERTED = _INSERT.cte("inserted_event")
_INSERT_AND_KEEP_LAST = _KEEP_LAST.add_cte(_INSERTED).returning(select(_INSERTED.c.id).scalar_subquery())
"""PostgreSQL runs both writes in one statement (a data-modifying CTE): one round trip fewer per event."""


NUMBER_NEXT_EVENT = {"events_seq": _CHECKS.c.events_seq + 1}
"""Values for a caller's own UPDATE of a check row that also numbers the next event of its trail: with
``.returning(*NUMBERED)`` it gives what ``write_event`` needs, saving append_event's own numbering statement."""
NUMBERED = (_CHECKS.c.events_seq, _CHECKS.c.events_hash)


async def append_event(
    session: AsyncSession,
    check_id: uuid.UUID,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> int:
    """Add one event at the end of a check's trail (inside the caller's transaction); returns its id.

    Every event of every check comes through here or ``write_event``, so this is where the record's hash
    chain is kept.
    """
    row = (await session.execute(_NUMBER, {"n_check": check_id})).one_or_none()
    if row is None:
        raise LookupError(f"no check {check_id}")
    event_id, _ = await write_event(session, check_id, row[0], row[1], kind, actor, at, data)
    return event_id


@dataclass(frozen=True, slots=True)
class Chain:
    """Where a check's trail ends, as its row holds it: how many events, and the last one's hash (the
    genesis hash before the first)."""

    events_seq: int
    events_hash: str


EMPTY = Chain(0, GENESIS)
"""A trail before its first event."""


def prepare_event(
    check_id: uuid.UUID, chain: Chain, kind: str, actor: str, at: datetime, data: dict[str, Any] | None
) -> dict[str, Any]:
    """The column values of the event that follows ``chain`` (EMPTY for a trail's first), hash included."""
    seq = chain.events_seq
    prev_hash = chain.events_hash
    payload = normalise(data)
    salt = new_salt() if has_free_text(payload) else None
    return {
        "check_id": check_id,
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "data": payload,
        "salt": salt,
        "prev_hash": prev_hash,
        "hash": event_hash(check_id, seq, at, kind, actor, payload, salt, prev_hash),
    }


def insert_prepared(connection: Connection, event: dict[str, Any]) -> None:
    """Insert an event from ``prepare_event`` whose check row the caller has already moved on (events_seq
    one more, events_hash this event's), in the same transaction (synchronous: bot.db.transactions)."""
    connection.execute(_INSERT_PLAIN, event)


async def write_event(
    session: AsyncSession,
    check_id: uuid.UUID,
    events_seq: int,
    events_hash: str | None,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> tuple[int, Chain]:
    """Write the event just numbered: ``events_seq`` and ``events_hash`` as the numbering UPDATE returned them
    (``_NUMBER``, or a caller's UPDATE with NUMBER_NEXT_EVENT), in the same transaction, which holds the row.
    Returns the event's id and where the trail now ends."""
    values = prepare_event(check_id, Chain(events_seq - 1, events_hash or GENESIS), kind, actor, at, data)
    digest = values["hash"]
    if session.get_bind().dialect.name == "postgresql":
        event_id = await session.scalar(_INSERT_AND_KEEP_LAST, {**values, "k_check": check_id, "k_hash": digest})
    else:
        event_id = await session.scalar(_INSERT, values)
        await session.execute(_KEEP_LAST, {"k_check": check_id, "k_hash": digest})
    assert event_id is not None
    return int(event_id), Chain(events_seq, digest)


@dataclass(frozen=True)
class NewEvent:
    """One event to add with ``append_events`` (the arguments of ``append_event``, kept for a batch)."""

    check_id: uuid.UUID
    kind: str
    actor: str
    at: datetime
    data: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    """An event as ``append_events`` stored it (a plain value: building ORM objects cost more than the SQL)."""

    id: int
    check_id: uuid.UUID
    seq: int
    at: datetime
    kind: str
    actor: str
    data: dict[str, Any]
    salt: str | None
    prev_hash: str
    hash: str


BATCH_CHECKS = 500
"""Checks numbered per statement: keeps every statement well under the drivers' bind-parameter limits."""


async def append_events(session: AsyncSession, events: Sequence[NewEvent]) -> list[AppendedEvent]:
    """Add many events, to any number of checks, in a few statements (inside the caller's transaction).

    The result is exactly what calling ``append_event`` once per event, in this order, would store: the same
    seq, prev_hash and hash for every event, the same events_seq and events_hash on every check. Only the
    round trips differ: per chunk of checks, one statement numbers and locks them, one inserts the events and
    one keeps each check's last hash, instead of two or three per event. Events of one check keep their order.
    """
    if not events:
        return []
    counts = Counter(e.check_id for e in events)
    # checks are locked in id order (here and inside each statement), so two transactions appending to
    # overlapping sets of checks queue up behind each other instead of deadlocking
    ids = sorted(counts)
    heads: dict[uuid.UUID, tuple[int, str]] = {}
    for i in range(0, len(ids), BATCH_CHECKS):
        chunk = ids[i : i + BATCH_CHECKS]
        heads.update(await _number(session, chunk, counts))
    missing = set(counts) - set(heads)
    if missing:
        raise LookupError(f"no check {sorted(missing)[0]}")

    rows: list[dict[str, Any]] = []
    for e in events:
        seq, prev_hash = heads[e.check_id]
        row = prepare_event(e.check_id, Chain(seq, prev_hash), e.kind, e.actor, e.at, e.data)
        heads[e.check_id] = (seq + 1, row["hash"])
        rows.append(row)
    # one executemany each (insertmanyvalues packs the inserts into multi-row statements); the ids come back
    # keyed by (check, seq), so nothing depends on the order the database returns them in
    inserted = await session.execute(
        insert(CheckEvent).returning(CheckEvent.id, CheckEvent.check_id, CheckEvent.seq), rows
    )
    event_ids = {(check_id, seq): event_id for event_id, check_id, seq in inserted}
    table = _CHECKS
    await session.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(events_hash=bindparam("b_hash")),
        [{"b_id": check_id, "b_hash": digest} for check_id, (_, digest) in heads.items()],
    )
    return [AppendedEvent(id=event_ids[(row["check_id"], row["seq"])], **row) for row in rows]


async def _number(
    session: AsyncSession, chunk: list[uuid.UUID], counts: Counter[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, str]]:
    """Reserve counts[id] seqs on each check of the chunk; returns each one's first seq and the hash before it."""
    # most batches add one event per check: a plain "+ 1" keeps the statement's compiled form cacheable
    step: ColumnElement[int] = (
        literal(1) if all(counts[c] == 1 for c in chunk) else case({c: counts[c] for c in chunk}, value=Check.id)
    )
    # the subquery takes the row locks in id order (PostgreSQL; SQLite has one writer and drops FOR UPDATE);
    # RETURNING shows events_hash as this statement leaves it, which is still the last event's, as in append_event
    locked = select(Check.id).where(Check.id.in_(chunk)).order_by(Check.id).with_for_update()
    result = await session.execute(
        update(Check)
        .where(Check.id.in_(locked.scalar_subquery()))
        .values(events_seq=Check.events_seq + step)
        .returning(Check.id, Check.events_seq, Check.events_hash)
        .execution_options(synchronize_session=False)
    )
    return {check_id: (seq - counts[check_id], last or GENESIS) for check_id, seq, last in result}


async def trail(session: AsyncSession, check_id: uuid.UUID) -> list[CheckEvent]:
    rows = await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
    return list(rows)
