"""What we keep about chat users: their time zone and, for Teams, how to reach them proactively."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import insert_with_conflicts
from bot.db.models import PlatformUser
from bot.db.transactions import ShortTransactions


async def remember_user(
    transactions: ShortTransactions,
    platform: str,
    workspace_id: str,
    user_id: str,
    now: datetime,
    *,
    tz: str | None = None,
    conversation_ref: dict[str, Any] | None = None,
    aad_object_id: str | None = None,
) -> None:
    """Insert or update a user; fields passed as None keep what was stored.

    One upsert statement in a short transaction: every new Slack user and every Teams turn comes through
    here, and a read then a write cost a round trip and an ORM flush more.
    """
    given: dict[str, Any] = {"updated_at": now}
    if tz is not None:
        given["tz"] = tz
    if conversation_ref is not None:
        given["conversation_ref"] = conversation_ref
    if aad_object_id is not None:
        given["aad_object_id"] = aad_object_id

    def upsert(connection: Connection) -> None:
        insert = insert_with_conflicts(connection.dialect.name, cast(Table, PlatformUser.__table__))
        statement = insert.values(platform=platform, workspace_id=workspace_id, user_id=user_id, **given)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[PlatformUser.platform, PlatformUser.workspace_id, PlatformUser.user_id],
                set_={name: statement.excluded[name] for name in given},
            )
        )

    await transactions.run(upsert)


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


async def user_by_aad_object_id(
    sessions: async_sessionmaker[AsyncSession], platform: str, workspace_id: str, aad_object_id: str
) -> PlatformUser | None:
    """The user of this tenant with this Entra object id (what a Teams people picker returns), if they talked to us.

    The most recently seen one if, oddly, several ids carry it (a user re-created in the same tenant).
    """
    async with sessions() as session:
        found = await session.scalars(
            select(PlatformUser)
            .where(
                PlatformUser.platform == platform,
                PlatformUser.workspace_id == workspace_id,
                PlatformUser.aad_object_id == aad_object_id,
            )
            .order_by(PlatformUser.updated_at.desc())
            .limit(1)
        )
        return found.first()
