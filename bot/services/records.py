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
) -> CheckEvent:
    """Add one event at the end of a check's trail (inside the caller's transaction)."""
    # one statement numbers the event and locks the check, so concurrent appends cannot collide
    seq = await session.scalar(
        update(Check)
        .where(Check.id == check_id)
        .values(events_seq=Check.events_seq + 1)
        .returning(Check.events_seq)
        .execution_options(synchronize_session=False)
    )
    if seq is None:
        raise LookupError(f"no check {check_id}")
    event = CheckEvent(
        check_id=check_id,
        seq=seq - 1,
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
