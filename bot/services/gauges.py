"""Gauges counted in the database (follow-ups by state, outbox backlog, unsealed records).

They are refreshed by each scheduler pass and, lazily, when /metrics is scraped, never more than once per
``min_interval`` per process: a busy Prometheus or several scrapers cost at most one small query set each period.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Check, FollowUp, OutboxMessage
from bot.followups.models import State
from bot.metrics import AUDIT_UNSEALED, FOLLOW_UPS, OUTBOX_QUEUED

log = logging.getLogger(__name__)

FOLLOW_UP_STATES = tuple(State)
"""Every state is reported, at 0 when no follow-up is in it, so a dashboard's series never vanish."""


class DatabaseGauges:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], min_interval: float = 15.0) -> None:
        self._sessions = sessions
        self._min_interval = min_interval
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, force: bool = False) -> bool:
        """Re-count if the last count is older than the interval; False when skipped or the database failed."""
        async with self._lock:  # concurrent scrapes share one refresh
            now = time.monotonic()
            if not force and self._last is not None and now - self._last < self._min_interval:
                return False
            self._last = now
            try:
                async with self._sessions() as session:
                    by_state = dict(
                        (await session.execute(select(FollowUp.state, func.count()).group_by(FollowUp.state))).all()
                    )
                    queued = await session.scalar(
                        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "queued")
                    )
                    unsealed = await session.scalar(
                        select(func.count()).select_from(Check).where(Check.sealed_seq < Check.events_seq)
                    )
            except Exception:  # metrics must never break a scrape or a scheduler pass; the figures stay as they were
                log.warning("could not refresh the database gauges", exc_info=True)
                return False
        for state in sorted(set(FOLLOW_UP_STATES) | set(by_state)):
            FOLLOW_UPS.labels(str(state)).set(by_state.get(state, 0))
        OUTBOX_QUEUED.set(queued or 0)
        AUDIT_UNSEALED.set(unsealed or 0)
        return True
