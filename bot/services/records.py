"""The append-only event trail of a check."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
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
    event = CheckEvent(
        check_id=check_id,
        seq=seq,
        at=at,
        kind=kind,
        actor=actor,
        data=data or {},
    )
    session.add(event)
    await session.flush()
    return event


async def trail(session: AsyncSession, check_id: uuid.UUID) -> list[CheckEvent]:
    rows = await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
    return list(rows)
