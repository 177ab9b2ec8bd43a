"""Remembering platform deliveries already handled, so a retry or replay is acted on once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ProcessedRequest


async def first_time(sessions: async_sessionmaker[AsyncSession], key: str, now: datetime) -> bool:
    """True the first time ``key`` is seen; False for every later delivery of the same key."""
    try:
        async with sessions.begin() as session:
            session.add(ProcessedRequest(key=key[:200], at=now))
    except IntegrityError:
        return False
    return True


async def forget_before(sessions: async_sessionmaker[AsyncSession], cutoff: datetime) -> int:
    async with sessions.begin() as session:
        result = await session.execute(delete(ProcessedRequest).where(ProcessedRequest.at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


RETENTION = timedelta(days=2)
