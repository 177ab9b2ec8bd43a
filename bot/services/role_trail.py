"""The trail of role and lead changes: who was made or stopped being an administrator or a lead, by whom, when.

Append-only, in its own table (``role_events``): the audit chain of bot.services.audit is per decision record,
and a role change belongs to no record. Each event is hashed with the one before it (one chain, numbered by
``seq``), so ``verify`` names an edited, deleted or reordered event. An event is written in the same
transaction as the change it describes: no change without its event, no event without its change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RoleEvent
from bot.services.audit_hash import GENESIS, at_text, canonical
from bot.user_refs import UserRef

ADMIN_GRANTED = "admin_granted"
ADMIN_REMOVED = "admin_removed"
LEAD_ASSIGNED = "lead_assigned"
LEAD_REMOVED = "lead_removed"
DEFAULT_LEAD_APPLIED = "default_lead_applied"
DEFAULT_LEAD_WITHDRAWN = "default_lead_withdrawn"
BOOTSTRAP_ADMIN_APPLIED = "bootstrap_admin_applied"
BOOTSTRAP_ADMIN_WITHDRAWN = "bootstrap_admin_withdrawn"
UNSCOPED = "*"
"""The workspace of an event about an unscoped settings entry."""
SETTINGS_ACTOR = "settings"
TRAIL_LOCK = 724019
"""PostgreSQL advisory lock key that orders writers at the end of the trail (724018 is the migrations')."""


@dataclass(frozen=True)
class Change:
    platform: str
    workspace_id: str
    kind: str
    subject: str
    actor: str
    scope: str = ""
    scope_value: str = ""


def role_event_hash(seq: int, at: datetime, change: Change, prev_hash: str) -> str:
    body = {
        "v": 1,
        "seq": seq,
        "at": at_text(at),
        "platform": change.platform,
        "workspace_id": change.workspace_id,
        "kind": change.kind,
        "subject": change.subject,
        "scope": change.scope,
        "scope_value": change.scope_value,
        "actor": change.actor,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


async def record(session: AsyncSession, now: datetime, changes: Iterable[Change]) -> int:
    """Append the changes at the end of the chain, in the caller's transaction.

    On PostgreSQL writers take their turn at the end of the chain (a transaction-scoped advisory lock), so
    however many change roles at once, none is refused. Elsewhere two writers reading the same end both try the
    same ``seq``: the primary key refuses the second, whose whole transaction (the change too) rolls back; callers
    retry it (``with_retry``).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TRAIL_LOCK})
    last = (
        await session.execute(select(RoleEvent.seq, RoleEvent.hash).order_by(RoleEvent.seq.desc()).limit(1))
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last is not None else (0, GENESIS)
    count = 0
    for change in changes:
        digest = role_event_hash(seq, now, change, prev)
        session.add(
            RoleEvent(
                seq=seq,
                at=now,
                platform=change.platform,
                workspace_id=change.workspace_id,
                kind=change.kind,
                subject=change.subject,
                scope=change.scope,
                scope_value=change.scope_value,
                actor=change.actor,
                prev_hash=prev,
                hash=digest,
            )
        )
        seq, prev, count = seq + 1, digest, count + 1
    await session.flush()
    return count


async def history(
    sessions: async_sessionmaker[AsyncSession], platform: str | None = None, workspace_id: str | None = None
) -> list[RoleEvent]:
    async with sessions() as session:
        query = select(RoleEvent).order_by(RoleEvent.seq)
        if platform is not None:
            query = query.where(RoleEvent.platform == platform)
        if workspace_id is not None:
            query = query.where(RoleEvent.workspace_id.in_((workspace_id, UNSCOPED)))
        return list(await session.scalars(query))


async def verify(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Recompute the chain; one line per problem (by seq and kind, never anything else)."""
    problems: list[str] = []
    async with sessions() as session:
        events = list(await session.scalars(select(RoleEvent).order_by(RoleEvent.seq)))
    prev, expected = GENESIS, 0
    for event in events:
        if event.seq != expected:
            problems.append(f"role trail: event(s) {expected}..{event.seq - 1} deleted")
        change = Change(
            event.platform, event.workspace_id, event.kind, event.subject, event.actor, event.scope, event.scope_value
        )
        if role_event_hash(event.seq, event.at, change, event.prev_hash) != event.hash:
            problems.append(f"role trail: event {event.seq} ({event.kind}) edited")
        elif event.prev_hash != prev:
            problems.append(f"role trail: event {event.seq} ({event.kind}) does not follow the one before it")
        prev, expected = event.hash, event.seq + 1
    return problems


async def head(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
    """(events, last hash): to keep outside the database, like the audit chains' heads."""
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(RoleEvent)) or 0
        last = await session.scalar(select(RoleEvent.hash).order_by(RoleEvent.seq.desc()).limit(1))
    return int(count), last or GENESIS


def settings_changes(
    recorded: Iterable[RoleEvent], configured: Iterable[UserRef], applied: str, withdrawn: str
) -> list[Change]:
    """Events that bring the trail in line with the settings: each entry new since the last start is applied,
    each entry gone from the settings withdrawn."""
    live: set[tuple[str, str, str]] = set()
    for event in recorded:
        key = (event.platform, event.workspace_id, event.subject)
        if event.kind == applied:
            live.add(key)
        elif event.kind == withdrawn:
            live.discard(key)
    wanted = {(r.platform, r.workspace_id or UNSCOPED, r.user_id) for r in configured}
    changes = [Change(p, w, applied, u, SETTINGS_ACTOR) for p, w, u in sorted(wanted - live)]
    changes += [Change(p, w, withdrawn, u, SETTINGS_ACTOR) for p, w, u in sorted(live - wanted)]
    return changes
