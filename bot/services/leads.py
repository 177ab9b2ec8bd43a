"""Who a practitioner's safeguarding lead is: set per practitioner, per channel or per workspace, with a default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import LeadAssignment

SCOPES = ("user", "channel", "workspace")


def parse_user_ref(value: str | None) -> tuple[str, str] | None:
    """'slack:U0123ABCD' -> ('slack', 'U0123ABCD'); None or malformed -> None."""
    if not value or ":" not in value:
        return None
    platform, _, user_id = value.strip().partition(":")
    return (platform, user_id) if platform and user_id else None


class LeadDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], default_lead: str | None) -> None:
        self._sessions = sessions
        self._default = parse_user_ref(default_lead)

    async def lead_for(
        self, session: AsyncSession, platform: str, workspace_id: str, user_id: str, channel_id: str | None = None
    ) -> str | None:
        """The most specific lead: the practitioner's own, their channel's, the workspace's, else the default."""
        rows = await session.execute(
            select(LeadAssignment.scope, LeadAssignment.scope_value, LeadAssignment.lead_id)
            .where(LeadAssignment.platform == platform, LeadAssignment.workspace_id == workspace_id)
            .order_by(LeadAssignment.id)
        )
        by_scope: dict[str, str] = {}
        for scope, value, lead in rows:
            if (
                (scope == "user" and value == user_id)
                or (scope == "channel" and channel_id and value == channel_id)
                or scope == "workspace"
            ):
                by_scope.setdefault(scope, lead)
        for scope in SCOPES:
            if scope in by_scope:
                return by_scope[scope]
        if self._default and self._default[0] == platform:
            return self._default[1]
        return None

    async def assign(
        self, platform: str, workspace_id: str, lead_id: str, scope: str, scope_value: str, now: datetime
    ) -> bool:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        try:
            async with self._sessions.begin() as session:
                session.add(
                    LeadAssignment(
                        platform=platform,
                        workspace_id=workspace_id,
                        lead_id=lead_id,
                        scope=scope,
                        scope_value="" if scope == "workspace" else scope_value,
                        created_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def remove(self, platform: str, workspace_id: str, lead_id: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(LeadAssignment).where(
                    LeadAssignment.platform == platform,
                    LeadAssignment.workspace_id == workspace_id,
                    LeadAssignment.lead_id == lead_id,
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def list(self, platform: str | None = None) -> list[LeadAssignment]:
        async with self._sessions() as session:
            query = select(LeadAssignment).order_by(LeadAssignment.platform, LeadAssignment.workspace_id)
            if platform:
                query = query.where(LeadAssignment.platform == platform)
            return list(await session.scalars(query))
