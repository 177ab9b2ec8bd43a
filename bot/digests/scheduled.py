"""What the scheduler runs for digests: every lead's digest queued once for each complete period.

The ``digests_sent`` key (lead, period end) is inserted in the same transaction as the outbox message, so several
instances racing here queue it once; a period missed (the scheduler was down) is sent late rather than never.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import DigestSent
from bot.digests.messaging import outbox_row
from dialogs.content import Pack

if TYPE_CHECKING:
    from bot.digests.service import DigestService


class DueDigests:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, digests: DigestService) -> None:
        self._sessions = sessions
        self._clock = clock
        self._digests = digests

    async def queue_due(self, pack: Pack, catch_up: int = 4) -> int:
        """Queue every lead's digest for each complete period not yet sent, up to ``catch_up`` periods back."""
        now = self._clock.now()
        queued = 0
        for (platform, workspace_id, lead_id), since in (await self._digests.leads_since()).items():
            schedule = await self._digests.schedule(platform, workspace_id, lead_id)
            start, end = schedule.period_ending_by(now)
            periods = [(start, end)]
            async with self._sessions() as session:
                last = await session.scalar(
                    select(func.max(DigestSent.period_end)).where(
                        DigestSent.platform == platform,
                        DigestSent.workspace_id == workspace_id,
                        DigestSent.lead_id == lead_id,
                    )
                )
            last = last or since  # a new lead's first digest is the first period that ends after they became one
            if last is not None:
                while len(periods) < catch_up and periods[-1][0] > last:
                    periods.append(schedule.previous(periods[-1][0]))
                periods = [p for p in periods if p[1] > last]
            for order, (p_start, p_end) in enumerate(reversed(periods)):
                digest = await self._digests.build_period(
                    platform, workspace_id, lead_id, pack, schedule, p_start, p_end
                )
                try:
                    async with self._sessions.begin() as session:
                        session.add(
                            DigestSent(
                                platform=platform,
                                workspace_id=workspace_id,
                                lead_id=lead_id,
                                period_end=p_end,
                                period_start=p_start,
                                queued_at=now,
                            )
                        )
                        await session.flush()
                        # due a microsecond apart, oldest period first (the outbox sends in due order), all by now
                        due = now - timedelta(microseconds=len(periods) - order)
                        session.add(outbox_row(platform, workspace_id, lead_id, digest, due))
                    queued += 1
                except IntegrityError:
                    continue  # another instance queued this period
        return queued
