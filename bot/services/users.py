"""What we keep about chat users: their time zone and, for Teams, how to reach them proactively."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import PlatformUser


async def remember_user(
    sessions: async_sessionmaker[AsyncSession],
    platform: str,
    workspace_id: str,
    user_id: str,
    now: datetime,
    *,
    tz: str | None = None,
    conversation_ref: dict[str, Any] | None = None,
) -> None:
    """Insert or update a user; fields passed as None keep what was stored."""
    async with sessions.begin() as session:
        user = await session.get(PlatformUser, (platform, workspace_id, user_id), with_for_update=True)
        if user is None:
            session.add(
                PlatformUser(
                    platform=platform,
                    workspace_id=workspace_id,
                    user_id=user_id,
                    tz=tz,
                    conversation_ref=conversation_ref,
                    updated_at=now,
                )
            )
            return
        if tz is not None:
            user.tz = tz
        if conversation_ref is not None:
            user.conversation_ref = conversation_ref
        user.updated_at = now


async def get_user(
    sessions: async_sessionmaker[AsyncSession], platform: str, workspace_id: str, user_id: str
) -> PlatformUser | None:
    async with sessions() as session:
        return await session.scalar(
            select(PlatformUser).where(
                PlatformUser.platform == platform,
                PlatformUser.workspace_id == workspace_id,
                PlatformUser.user_id == user_id,
            )
        )
