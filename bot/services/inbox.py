"""The console's inbox: what the scheduler pushes to a chat user, collected by a terminal user instead.

A terminal cannot be messaged, so the console is a pull platform: its outbox rows are never claimed by the
scheduler (``bot.delivery.PULLED_PLATFORMS``) and are delivered here, once, when the person next opens
ShareCheck. Questions are not replayed from the outbox: the open follow-ups put to the person are listed
fresh each time (``FollowUpService.asked_of``), so one left for later is asked again, and a nudge never
shows the same question twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.models import Actor
from bot.clock import Clock
from bot.db.models import OutboxMessage
from bot.delivery import OUTBOUND
from dialogs.messages import Digest, FollowUpPrompt, Info


class Inbox:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def collect(self, actor: Actor) -> list[Info | Digest]:
        """The notices waiting for this person, oldest first, each marked delivered as it is handed over."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.platform == actor.platform,
                        OutboxMessage.workspace_id == actor.workspace_id,
                        OutboxMessage.user_id == actor.user_id,
                        OutboxMessage.status == "queued",
                        OutboxMessage.due_at <= now,
                    )
                    .order_by(OutboxMessage.created_at, OutboxMessage.id)
                    .with_for_update(skip_locked=True)
                )
            )
            notices: list[Info | Digest] = []
            for row in rows:
                message = OUTBOUND.validate_python(row.message)
                if not isinstance(message, FollowUpPrompt):  # questions are listed fresh (see the module doc)
                    notices.append(message)
                self._delivered(row, now)
        return notices

    @staticmethod
    def _delivered(row: OutboxMessage, now: datetime) -> None:
        row.status = "sent"
        row.sent_at = now
        row.attempts += 1
        row.delivery_ref = {"via": "console_inbox"}
