"""Roles: who may change roles (administrators) and who leads whom. Enforced here, not in adapters."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models import Role
from bot.services.checks import Actor
from bot.services.leads import SCOPES, LeadDirectory, parse_user_ref
from bot.settings import Settings


class NotPermitted(PermissionError):
    """The actor's role does not allow this; the message is safe to show them."""


class RoleService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, leads: LeadDirectory
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._leads = leads
        self._bootstrap = {
            ref for ref in (parse_user_ref(v) for v in (settings.sharecheck_admins or "").split(",")) if ref
        }

    async def is_admin(self, actor: Actor) -> bool:
        if (actor.platform, actor.user_id) in self._bootstrap:
            return True
        async with self._sessions() as session:
            row = await session.get(Role, (actor.platform, actor.workspace_id, actor.user_id, "admin"))
        return row is not None

    async def require_admin(self, actor: Actor) -> None:
        if not await self.is_admin(actor):
            raise NotPermitted("Only a ShareCheck administrator can change roles. Ask your administrator.")

    async def grant_admin(self, by: Actor, user_id: str) -> bool:
        await self.require_admin(by)
        async with self._sessions.begin() as session:
            key = (by.platform, by.workspace_id, user_id, "admin")
            if await session.get(Role, key) is not None:
                return False
            session.add(
                Role(
                    platform=by.platform,
                    workspace_id=by.workspace_id,
                    user_id=user_id,
                    role="admin",
                    granted_by=str(by),
                    created_at=self._clock.now(),
                )
            )
        return True

    async def add_lead(self, by: Actor, lead_id: str, scope: str, values: Sequence[str] = ()) -> int:
        """Make ``lead_id`` the lead for the workspace, some channels or some practitioners of ``by``'s workspace."""
        await self.require_admin(by)
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        targets = [""] if scope == "workspace" else list(values)
        if not targets:
            raise ValueError("name at least one practitioner or channel, or 'all' for the whole workspace")
        now = self._clock.now()
        added = 0
        for value in targets:
            added += await self._leads.assign(by.platform, by.workspace_id, lead_id, scope, value, now)
        return added

    async def remove_lead(self, by: Actor, lead_id: str) -> int:
        await self.require_admin(by)
        return await self._leads.remove(by.platform, by.workspace_id, lead_id)

    async def admins(self, platform: str, workspace_id: str) -> list[str]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Role.user_id).where(
                    Role.platform == platform, Role.workspace_id == workspace_id, Role.role == "admin"
                )
            )
            return sorted(rows)
