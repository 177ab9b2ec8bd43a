"""The append-only event trail of a check."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Check, CheckEvent


async def append_event(
    session: AsyncSession,
    check_id: uuid.UUID,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any] | None = None,
    *,
    seq: int | None = None,
) -> CheckEvent:
    """Add one event at the end of a check's trail (inside the caller's transaction).

    ``seq`` is for a caller that already took the next number in its own UPDATE of the check (the
    answer path does, saving a statement per step); it must come from ``events_seq + 1 ... RETURNING``.
    """
    if seq is None:
        # one statement numbers the event and locks the check, so concurrent appends cannot collide
        taken = await session.scalar(
            update(Check)
            .where(Check.id == check_id)
            .values(events_seq=Check.events_seq + 1)
            .returning(Check.events_seq)
            .execution_options(synchronize_session=False)
        )
        if taken is None:
            raise LookupError(f"no check {check_id}")
        seq = taken - 1
    values = {"check_id": check_id, "seq": seq, "at": at, "kind": kind, "actor": actor, "data": data or {}}
    # a Core INSERT on the table, not session.add() + flush(): the ORM unit of work cost more than the insert itself
    # (the event is never changed after this, so nothing needs the ORM to track it)
    await session.execute(_INSERT_EVENT, values)
    return CheckEvent(**values)


_INSERT_EVENT = insert(cast(Table, CheckEvent.__table__))


async def trail(session: AsyncSession, check_id: uuid.UUID) -> list[CheckEvent]:
    rows = await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
    return list(rows)
