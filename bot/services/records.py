"""The append-only event trail of a check, chained by hash (bot.services.audit_hash)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Check, CheckEvent
from bot.services.audit_hash import GENESIS, event_hash, has_free_text, new_salt, normalise


async def append_event(
    session: AsyncSession,
    check_id: uuid.UUID,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> CheckEvent:
    """Add one event at the end of a check's trail (inside the caller's transaction).

    Every event of every check comes through here, so this is where the record's hash chain is kept.
    """
    # one statement numbers the event, locks the check and reads the hash to chain from (RETURNING shows
    # events_hash as this statement leaves it, which is the previous event's), so concurrent appends queue up
    # behind the row lock and each chains from the one before
    row = (
        await session.execute(
            update(Check)
            .where(Check.id == check_id)
            .values(events_seq=Check.events_seq + 1)
            .returning(Check.events_seq, Check.events_hash)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
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
    keep_last = update(Check).where(Check.id == check_id).values(events_hash=digest)
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL runs both writes in one statement (a data-modifying CTE): one round trip fewer per event
        inserted = insert(CheckEvent).values(**values).returning(CheckEvent.id).cte("inserted_event")
        event_id = await session.scalar(
            keep_last.add_cte(inserted)
            .returning(select(inserted.c.id).scalar_subquery())
            .execution_options(synchronize_session=False)
        )
    else:
        event_id = await session.scalar(insert(CheckEvent).values(**values).returning(CheckEvent.id))
        await session.execute(keep_last.execution_options(synchronize_session=False))
    return CheckEvent(id=event_id, **values)


async def trail(session: AsyncSession, check_id: uuid.UUID) -> list[CheckEvent]:
    rows = await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
    return list(rows)
