"""The append-only event trail of a check, chained by hash (bot.services.audit_hash)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
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
_INSERT = insert(_EVENTS).values({c: bindparam(c) for c in _EVENT_COLUMNS}).returning(_EVENTS.c.id)
_KEEP_LAST = update(_CHECKS).where(_CHECKS.c.id == bindparam("k_check")).values(events_hash=bindparam("k_hash"))
_INSERTED = _INSERT.cte("inserted_event")
_INSERT_AND_KEEP_LAST = _KEEP_LAST.add_cte(_INSERTED).returning(select(_INSERTED.c.id).scalar_subquery())
"""PostgreSQL runs both writes in one statement (a data-modifying CTE): one round trip fewer per event."""


async def append_event(
    session: AsyncSession,
    check_id: uuid.UUID,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> int:
    """Add one event at the end of a check's trail (inside the caller's transaction); returns its id.

    Every event of every check comes through here, so this is where the record's hash chain is kept.
    """
    row = (await session.execute(_NUMBER, {"n_check": check_id})).one_or_none()
    if row is None:
        raise LookupError(f"no check {check_id}")
    seq = row[0] - 1
    prev_hash = row[1] or GENESIS
    payload = normalise(data)
    salt = new_salt() if has_free_text(payload) else None
    digest = event_hash(check_id, seq, at, kind, actor, payload, salt, prev_hash)
    values = {
        "check_id": check_id,
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "data": payload,
        "salt": salt,
        "prev_hash": prev_hash,
        "hash": digest,
    }
    if session.get_bind().dialect.name == "postgresql":
        event_id = await session.scalar(_INSERT_AND_KEEP_LAST, {**values, "k_check": check_id, "k_hash": digest})
    else:
        event_id = await session.scalar(_INSERT, values)
        await session.execute(_KEEP_LAST, {"k_check": check_id, "k_hash": digest})
    assert event_id is not None
    return int(event_id)


async def trail(session: AsyncSession, check_id: uuid.UUID) -> list[CheckEvent]:
    rows = await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
    return list(rows)
