"""Remembering platform deliveries already handled, so a retry or replay is acted on once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ProcessedRequest
from bot.db.transactions import ShortTransactions

_SEEN = insert(cast(Table, ProcessedRequest.__table__))


async def first_time(transactions: ShortTransactions, key: str, now: datetime) -> bool:
    """True the first time ``key`` is seen; False for every later delivery of the same key.

    Every platform delivery that starts something comes through here, so it is one short transaction
    (a plain insert the primary key refuses the second time), not an ORM flush.
    """
    try:
        await transactions.run(lambda c: c.execute(_SEEN, {"key": key[:200], "at": now}))
    except IntegrityError:
        return False
    return True


async def forget_before(sessions: async_sessionmaker[AsyncSession], cutoff: datetime) -> int:
    async with sessions.begin() as session:
        result = await session.execute(delete(ProcessedRequest).where(ProcessedRequest.at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


RETENTION = timedelta(days=2)
