"""Remembering platform deliveries already handled, so a retry or replay is acted on once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import insert_with_conflicts
from bot.db.models import ProcessedRequest
from bot.db.transactions import ShortTransactions

_SEEN = {
    # a delivery seen before is skipped, not refused: a platform's retry leaves no error in the database's log
    dialect: insert_with_conflicts(dialect, cast(Table, ProcessedRequest.__table__)).on_conflict_do_nothing()
    for dialect in ("postgresql", "sqlite")
}


async def first_time(transactions: ShortTransactions, key: str, now: datetime) -> bool:
    """True the first time ``key`` is seen; False for every later delivery of the same key.

    Every platform delivery that starts something comes through here, so it is one short transaction
    (an insert that the key skips the second time), not an ORM flush.
    """
    seen = {"key": key[:200], "at": now}
    inserted = await transactions.run(lambda c: c.execute(_SEEN[c.dialect.name], seen).rowcount)
    return inserted == 1


async def forget_before(sessions: async_sessionmaker[AsyncSession], cutoff: datetime) -> int:
    async with sessions.begin() as session:
        result = await session.execute(delete(ProcessedRequest).where(ProcessedRequest.at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


RETENTION = timedelta(days=2)
