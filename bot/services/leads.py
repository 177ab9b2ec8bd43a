"""Who a practitioner's safeguarding lead is: set per practitioner, per channel or per workspace, with a default."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Check, LeadAssignment, PlatformUser
from bot.services import role_trail
from bot.services.role_trail import Change
from bot.user_refs import UserRef

log = logging.getLogger(__name__)

SCOPES = ("user", "channel", "workspace")
OPERATOR = "operator"
"""Who made a change when the caller does not say (the command line names itself)."""
T = TypeVar("T")


async def with_retry(work: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run a transaction that appends to the role trail again when another writer took the same place in it."""
    for attempt in range(attempts):
        try:
            return await work()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def seen_workspaces(session: AsyncSession, platform: str, limit: int = 2) -> set[str]:
    """Workspaces of ``platform`` ShareCheck has seen (someone used it there, or a check was made there)."""
    query = union(
        select(PlatformUser.workspace_id).where(PlatformUser.platform == platform),
        select(Check.workspace_id).where(Check.platform == platform),
    ).limit(limit)
    return set((await session.scalars(select(query.subquery().c[0]))).all())


async def only_workspace(session: AsyncSession, platform: str, workspace_id: str) -> bool:
    """Whether ``workspace_id`` is the only workspace seen on its platform: where unscoped entries of the
    settings still apply. A second workspace ends that, so an unscoped default lead or administrator never
    reaches into another workspace (docs/operations.md, "Leads and administrators")."""
    return await seen_workspaces(session, platform) <= {workspace_id}


class LeadDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], default_leads: Sequence[UserRef] = ()) -> None:
        self._sessions = sessions
        self._defaults = tuple(default_leads)

    @property
    def defaults(self) -> tuple[UserRef, ...]:
        return self._defaults

    async def default_for(self, session: AsyncSession, platform: str, workspace_id: str) -> str | None:
        """The configured default lead in this workspace: a scoped entry for it, else an unscoped one for its
        platform while this is the platform's only workspace."""
        mine = [r for r in self._defaults if r.applies_to(platform, workspace_id)]
        scoped = [r for r in mine if r.workspace_id is not None]
        if scoped:
            return scoped[0].user_id
        if mine and await only_workspace(session, platform, workspace_id):
            return mine[0].user_id
        return None

    async def default_places(self, session: AsyncSession) -> list[tuple[str, str, str]]:
        """(platform, workspace, lead) where a configured default lead applies and checks exist."""
        places: list[tuple[str, str, str]] = []
        for platform in sorted({r.platform for r in self._defaults}):
            spaces = await session.scalars(select(Check.workspace_id).where(Check.platform == platform).distinct())
            for workspace_id in spaces:
                lead = await self.default_for(session, platform, workspace_id)
                if lead is not None:
                    places.append((platform, workspace_id, lead))
        return places

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
        return await self.default_for(session, platform, workspace_id)

    async def assign(
        self,
        platform: str,
        workspace_id: str,
        lead_id: str,
        scope: str,
        scope_value: str,
        now: datetime,
        by: str = OPERATOR,
    ) -> bool:
        """Add one assignment and its ``lead_assigned`` event; False (and no event) if it was already there."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")
        value = "" if scope == "workspace" else scope_value

        async def work() -> bool:
            async with self._sessions.begin() as session:
                existing = await session.scalar(
                    select(LeadAssignment.id).where(
                        LeadAssignment.platform == platform,
                        LeadAssignment.workspace_id == workspace_id,
                        LeadAssignment.lead_id == lead_id,
                        LeadAssignment.scope == scope,
                        LeadAssignment.scope_value == value,
                    )
                )
                if existing is not None:
                    return False
                session.add(
                    LeadAssignment(
                        platform=platform,
                        workspace_id=workspace_id,
                        lead_id=lead_id,
                        scope=scope,
                        scope_value=value,
                        created_at=now,
                    )
                )
                change = Change(platform, workspace_id, role_trail.LEAD_ASSIGNED, lead_id, by, scope, value)
                await role_trail.record(session, now, [change])
            return True

        return await with_retry(work)

    async def remove(self, platform: str, workspace_id: str, lead_id: str, now: datetime, by: str = OPERATOR) -> int:
        """End every assignment of ``lead_id`` here, one ``lead_removed`` event each."""

        async def work() -> int:
            async with self._sessions.begin() as session:
                gone = (
                    await session.execute(
                        delete(LeadAssignment)
                        .where(
                            LeadAssignment.platform == platform,
                            LeadAssignment.workspace_id == workspace_id,
                            LeadAssignment.lead_id == lead_id,
                        )
                        .returning(LeadAssignment.scope, LeadAssignment.scope_value)
                    )
                ).all()
                changes = [
                    Change(platform, workspace_id, role_trail.LEAD_REMOVED, lead_id, by, scope, value)
                    for scope, value in sorted(gone)
                ]
                await role_trail.record(session, now, changes)
            return len(gone)

        return await with_retry(work)

    async def list(self, platform: str | None = None) -> list[LeadAssignment]:
        async with self._sessions() as session:
            query = select(LeadAssignment).order_by(LeadAssignment.platform, LeadAssignment.workspace_id)
            if platform:
                query = query.where(LeadAssignment.platform == platform)
            return list(await session.scalars(query))
