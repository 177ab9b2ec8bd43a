"""Roles: who may change roles (administrators) and who leads whom. Enforced here, not in adapters.

Every change is written with its event in the role trail (bot.services.role_trail). Administrators named in
SHARECHECK_ADMINS ("bootstrap" administrators) come from the settings, not the database: removing one in chat or
on the command line is refused with the reason, because the next start would make them one again; take them out
of the setting instead (the next start records that as ``bootstrap_admin_withdrawn``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.checks.models import Actor
from bot.clock import Clock
from bot.db.models import Role, RoleEvent
from bot.services import role_trail
from bot.services.leads import OPERATOR, SCOPES, LeadDirectory, only_workspace, seen_workspaces, with_retry
from bot.services.role_trail import Change
from bot.settings import Settings

log = logging.getLogger(__name__)


class NotPermitted(PermissionError):
    """The actor's role does not allow this; the message is safe to show them."""


class BootstrapAdmin(ValueError):
    """An administrator from SHARECHECK_ADMINS: only the setting can remove them."""


BOOTSTRAP_REMOVAL = (
    "That administrator is named in the SHARECHECK_ADMINS setting, so removing them here would not last: "
    "take them out of the setting and restart ShareCheck (the change is recorded then)."
)


class RoleService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings, leads: LeadDirectory
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._leads = leads
        self._bootstrap = settings.admin_refs

    # --- who is an administrator ----------------------------------------------------------

    async def is_bootstrap_admin(self, platform: str, workspace_id: str, user_id: str) -> bool:
        """Named in SHARECHECK_ADMINS for this workspace: scoped to it, or unscoped while it is the platform's
        only workspace."""
        mine = [r for r in self._bootstrap if r.applies_to(platform, workspace_id, user_id)]
        if any(r.workspace_id is not None for r in mine):
            return True
        if not mine:
            return False
        async with self._sessions() as session:
            return await only_workspace(session, platform, workspace_id)

    async def is_admin(self, actor: Actor) -> bool:
        if await self.is_bootstrap_admin(actor.platform, actor.workspace_id, actor.user_id):
            return True
        async with self._sessions() as session:
            row = await session.get(Role, (actor.platform, actor.workspace_id, actor.user_id, "admin"))
        return row is not None

    async def require_admin(self, actor: Actor) -> None:
        if not await self.is_admin(actor):
            raise NotPermitted("Only a ShareCheck administrator can change roles. Ask your administrator.")

    # --- changes made in chat (the actor must be an administrator of their workspace) ------

    async def grant_admin(self, by: Actor, user_id: str) -> bool:
        await self.require_admin(by)
        return await self.grant(by.platform, by.workspace_id, user_id, str(by))

    async def remove_admin(self, by: Actor, user_id: str) -> bool:
        """False if they were not an administrator here; BootstrapAdmin if only the settings can remove them."""
        await self.require_admin(by)
        return await self.revoke(by.platform, by.workspace_id, user_id, str(by))

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
            added += await self._leads.assign(by.platform, by.workspace_id, lead_id, scope, value, now, by=str(by))
        return added

    async def remove_lead(self, by: Actor, lead_id: str) -> int:
        await self.require_admin(by)
        return await self._leads.remove(by.platform, by.workspace_id, lead_id, self._clock.now(), by=str(by))

    # --- changes as such (chat after the check above; the command line directly) ----------

    async def grant(self, platform: str, workspace_id: str, user_id: str, by: str = OPERATOR) -> bool:
        now = self._clock.now()

        async def work() -> bool:
            async with self._sessions.begin() as session:
                if await session.get(Role, (platform, workspace_id, user_id, "admin")) is not None:
                    return False
                session.add(
                    Role(
                        platform=platform,
                        workspace_id=workspace_id,
                        user_id=user_id,
                        role="admin",
                        granted_by=by,
                        created_at=now,
                    )
                )
                await role_trail.record(
                    session, now, [Change(platform, workspace_id, role_trail.ADMIN_GRANTED, user_id, by)]
                )
            return True

        return await with_retry(work)

    async def revoke(self, platform: str, workspace_id: str, user_id: str, by: str = OPERATOR) -> bool:
        if await self.is_bootstrap_admin(platform, workspace_id, user_id):
            raise BootstrapAdmin(BOOTSTRAP_REMOVAL)
        now = self._clock.now()

        async def work() -> bool:
            async with self._sessions.begin() as session:
                result = await session.execute(
                    delete(Role).where(
                        Role.platform == platform,
                        Role.workspace_id == workspace_id,
                        Role.user_id == user_id,
                        Role.role == "admin",
                    )
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    return False
                await role_trail.record(
                    session, now, [Change(platform, workspace_id, role_trail.ADMIN_REMOVED, user_id, by)]
                )
            return True

        return await with_retry(work)

    async def admins(self, platform: str, workspace_id: str) -> list[str]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Role.user_id).where(
                    Role.platform == platform, Role.workspace_id == workspace_id, Role.role == "admin"
                )
            )
            return sorted(rows)

    async def all_admins(self, platform: str | None = None) -> list[Role]:
        async with self._sessions() as session:
            query = select(Role).where(Role.role == "admin").order_by(Role.platform, Role.workspace_id, Role.user_id)
            if platform:
                query = query.where(Role.platform == platform)
            return list(await session.scalars(query))

    # --- the settings, recorded ------------------------------------------------------------

    async def record_settings(self) -> list[Change]:
        """Bring the trail in line with SHARECHECK_ADMINS and SHARECHECK_DEFAULT_LEAD (at start-up): an entry new
        since the last start is recorded as applied, an entry gone as withdrawn. Warns about unscoped entries on
        a platform with several workspaces, where they apply nowhere."""
        now = self._clock.now()

        async def work() -> list[Change]:
            async with self._sessions.begin() as session:
                recorded = list(
                    await session.scalars(
                        select(RoleEvent).where(RoleEvent.actor == role_trail.SETTINGS_ACTOR).order_by(RoleEvent.seq)
                    )
                )
                changes = role_trail.settings_changes(
                    recorded,
                    self._leads.defaults,
                    role_trail.DEFAULT_LEAD_APPLIED,
                    role_trail.DEFAULT_LEAD_WITHDRAWN,
                ) + role_trail.settings_changes(
                    recorded,
                    self._bootstrap,
                    role_trail.BOOTSTRAP_ADMIN_APPLIED,
                    role_trail.BOOTSTRAP_ADMIN_WITHDRAWN,
                )
                await role_trail.record(session, now, changes)
            return changes

        changes = await with_retry(work)
        await self.warn_unscoped()
        return changes

    async def warn_unscoped(self) -> list[str]:
        """Platforms where unscoped settings entries apply nowhere (several workspaces seen); logged."""
        unscoped = {r.platform for r in (*self._bootstrap, *self._leads.defaults) if r.workspace_id is None}
        idle: list[str] = []
        async with self._sessions() as session:
            for platform in sorted(unscoped):
                if len(await seen_workspaces(session, platform)) > 1:
                    idle.append(platform)
                    log.warning(
                        "unscoped %s entries in SHARECHECK_ADMINS or SHARECHECK_DEFAULT_LEAD apply nowhere: "
                        "ShareCheck has seen several %s workspaces; scope them as %s:WORKSPACE:USER",
                        platform,
                        platform,
                        platform,
                    )
        return idle
