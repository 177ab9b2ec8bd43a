"""The tamper-evident audit trail: sealing events into each workspace's chain, and verifying every chain.

Two chains cover every event (DESIGN.md section 5: records are append-only):
- the record chain, written by ``append_event`` in the event's own transaction: each event carries the hash of
  the one before it in its check, and the check row keeps the last hash and the count (events_seq), so an edited,
  deleted, reordered or truncated trail shows;
- the workspace chain, written afterwards by the sealer: events are taken in id order and chained per workspace
  (platform + workspace id) in ``audit_seals``. Sealing later, not at append time, keeps one workspace's writes
  from queueing behind a single chain head; the seal keeps a copy of the event's record id, seq, kind and hash,
  so even a record whose events (or row) were deleted entirely is named.

The database is the only store, so someone able to rewrite every table and recompute every hash is not caught
by this alone: ``sharecheck audit verify`` prints each workspace's head, to be kept somewhere else.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import insert_with_conflicts
from bot.db.models import AuditHead, AuditSeal, Check, CheckEvent
from bot.metrics import AUDIT_SEALED
from bot.services.audit_hash import GENESIS, REDACTED, event_hash, seal_hash

log = logging.getLogger(__name__)

PURGED_KIND = "purged"
REHASHED_KIND = "rehashed"
"""An event a migration appends when the hash rule widened (bot.services.audit_hash): its data lists, for earlier
events of the record, the hash they were stored with ("was") and the one the current rule gives them ("now")."""


# --- sealing ---------------------------------------------------------------------------------


async def seal_pending(sessions: async_sessionmaker[AsyncSession], now: datetime, batch: int = 500) -> int:
    """Seal every event not yet in its workspace's chain; returns how many were sealed.

    Safe with several instances: each workspace is sealed in its own transaction holding its chain head's row
    lock (PostgreSQL skips a head another instance holds; SQLite has a single writer anyway).
    """
    sealed = 0
    while True:
        async with sessions() as session:
            places = (
                await session.execute(
                    select(Check.platform, Check.workspace_id)
                    .where(Check.sealed_seq < Check.events_seq)
                    .group_by(Check.platform, Check.workspace_id)
                )
            ).all()
        done = 0
        for platform, workspace_id in places:
            done += await _seal_workspace(sessions, platform, workspace_id, now, batch)
        sealed += done
        if done == 0:
            break
    AUDIT_SEALED.inc(sealed)
    return sealed


async def _seal_workspace(
    sessions: async_sessionmaker[AsyncSession], platform: str, workspace_id: str, now: datetime, batch: int
) -> int:
    async with sessions.begin() as session:
        head = await _lock_head(session, platform, workspace_id, now)
        if head is None:
            return 0  # another instance is sealing this workspace right now
        pending = (
            await session.execute(
                select(Check.id, Check.sealed_seq, Check.events_seq)
                .where(Check.platform == platform, Check.workspace_id == workspace_id)
                .where(Check.sealed_seq < Check.events_seq)
                .limit(batch)
                .with_for_update(skip_locked=True)  # a check being written to now is sealed next time
            )
        ).all()
        if not pending:
            return 0
        unsealed = or_(*(and_(CheckEvent.check_id == cid, CheckEvent.seq >= done) for cid, done, _ in pending))
        events = sorted(await session.scalars(select(CheckEvent).where(unsealed)), key=lambda e: e.id)
        seq, chained = head.seq, head.hash
        for event in events:
            workspace_hash = seal_hash(
                platform, workspace_id, seq, event.check_id, event.seq, event.kind, event.hash, chained
            )
            session.add(
                AuditSeal(
                    platform=platform,
                    workspace_id=workspace_id,
                    workspace_seq=seq,
                    event_id=event.id,
                    check_id=event.check_id,
                    seq=event.seq,
                    kind=event.kind,
                    event_hash=event.hash,
                    workspace_hash=workspace_hash,
                    sealed_at=now,
                )
            )
            seq, chained = seq + 1, workspace_hash
        head.seq, head.hash, head.updated_at = seq, chained, now
        # events_seq cannot have moved: the row is locked, and what it counts was committed with it; one
        # executemany for the batch (a statement per record made sealing cost a round trip per record)
        checks = cast(Table, Check.__table__)
        await session.execute(
            update(checks).where(checks.c.id == bindparam("b_id")).values(sealed_seq=bindparam("b_seq")),
            [{"b_id": cid, "b_seq": events_seq} for cid, _, events_seq in pending],
        )
        return len(events)


async def _lock_head(session: AsyncSession, platform: str, workspace_id: str, now: datetime) -> AuditHead | None:
    await session.execute(
        insert_with_conflicts(session.get_bind().dialect.name, cast(Table, AuditHead.__table__))
        .values(platform=platform, workspace_id=workspace_id, seq=0, hash=GENESIS, updated_at=now)
        .on_conflict_do_nothing()
    )
    # PostgreSQL: the row lock makes instances take turns per workspace; SQLite: the insert above already took
    # the database's write lock, so the head read next cannot change under us
    head: AuditHead | None = await session.scalar(
        select(AuditHead)
        .where(AuditHead.platform == platform, AuditHead.workspace_id == workspace_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return head


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem with one event, named by record id, seq and kind (never by its content)."""

    problem: str
    """edited, deleted, reordered, inserted, relinked, truncated, redacted_without_purge, seal_edited, seal_missing,
    head_mismatch."""
    platform: str
    workspace_id: str
    check_id: str | None
    seq: int | None
    kind: str | None
    detail: str = ""

    def line(self) -> str:
        where = f"{self.platform} {self.workspace_id}"
        what = f"record {self.check_id} seq {self.seq} ({self.kind or 'kind unknown: not yet sealed'})"
        if self.check_id is None:
            what = f"workspace chain at {self.seq}"
        return f"{self.problem}: {what} in {where}" + (f": {self.detail}" if self.detail else "")


@dataclass
class AuditReport:
    records: int = 0
    events: int = 0
    sealed: int = 0
    findings: list[Finding] = field(default_factory=list)
    heads: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(platform, workspace id, sealed events, head hash) of each workspace chain, to keep outside the database."""
    _seen: set[tuple[str | None, int | None, str]] = field(default_factory=set, repr=False)

    @property
    def intact(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        key = (finding.check_id, finding.seq, finding.problem)
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(finding)


async def verify(
    sessions: async_sessionmaker[AsyncSession],
    platform: str | None = None,
    workspace_id: str | None = None,
    batch: int = 500,
) -> AuditReport:
    """Recompute every record chain and every workspace chain (optionally of one platform or workspace)."""
    report = AuditReport()
    async with sessions() as session:
        seal_query = select(AuditSeal)
        head_query = select(AuditHead)
        check_query = select(Check).order_by(Check.id)
        if platform is not None:
            seal_query = seal_query.where(AuditSeal.platform == platform)
            head_query = head_query.where(AuditHead.platform == platform)
            check_query = check_query.where(Check.platform == platform)
        if workspace_id is not None:
            seal_query = seal_query.where(AuditSeal.workspace_id == workspace_id)
            head_query = head_query.where(AuditHead.workspace_id == workspace_id)
            check_query = check_query.where(Check.workspace_id == workspace_id)
        seals = list(await session.scalars(seal_query))
        heads = list(await session.scalars(head_query))
        seals_by_check: dict[uuid.UUID, dict[int, AuditSeal]] = defaultdict(dict)
        for seal in seals:
            seals_by_check[seal.check_id][seal.seq] = seal
        report.sealed = len(seals)
        seen_checks: set[uuid.UUID] = set()
        last: uuid.UUID | None = None
        while True:
            page = check_query.limit(batch) if last is None else check_query.where(Check.id > last).limit(batch)
            checks = list(await session.scalars(page))
            if not checks:
                break
            last = checks[-1].id
            rows = await session.scalars(select(CheckEvent).where(CheckEvent.check_id.in_([c.id for c in checks])))
            events: dict[uuid.UUID, list[CheckEvent]] = defaultdict(list)
            for event in rows:
                events[event.check_id].append(event)
            for check in checks:
                seen_checks.add(check.id)
                report.records += 1
                report.events += len(events[check.id])
                _verify_record(report, check, events[check.id], seals_by_check.get(check.id, {}))
    for check_id, by_seq in seals_by_check.items():
        if check_id not in seen_checks:  # the record itself is gone: its seals still name every event
            for seal in sorted(by_seq.values(), key=lambda s: s.seq):
                gone = str(check_id)
                report.add(Finding("deleted", seal.platform, seal.workspace_id, gone, seal.seq, seal.kind, "no record"))
    _verify_workspaces(report, heads, seals)
    return report


def _verify_record(report: AuditReport, check: Check, events: list[CheckEvent], seals: dict[int, AuditSeal]) -> None:
    def found(problem: str, seq: int | None, kind: str | None, detail: str = "") -> None:
        report.add(Finding(problem, check.platform, check.workspace_id, str(check.id), seq, kind, detail))

    count = check.events_seq
    by_seq: dict[int, CheckEvent] = {}
    for extra in events:
        if 0 <= extra.seq < count:
            by_seq[extra.seq] = extra
        else:
            found("inserted", extra.seq, extra.kind, f"the record counts {count} events")
    ids = {e.id: e for e in events}
    purged_from = min((e.seq for e in events if e.kind == PURGED_KIND), default=None)
    rehashed = _rehashed(events)
    prev: str | None = GENESIS
    for seq in range(count):
        event = by_seq.get(seq)
        seal = seals.get(seq)
        kind = seal.kind if seal is not None else (event.kind if event is not None else None)
        if event is None:
            found("deleted", seq, kind)
            prev = None
            continue
        problem = False
        recomputed = _recompute(event, event.seq)
        if recomputed != event.hash and rehashed.get(seq) != (event.hash, recomputed):
            moved = [s for s in range(count) if s != seq and _recompute(event, s) == event.hash]
            if moved:
                found("reordered", moved[0], kind, f"now at seq {seq}")
            else:
                found("edited", seq, kind)
            problem = True
        elif prev is not None and event.prev_hash != prev:
            found("relinked", seq, kind, "does not follow the event before it (one before was replaced)")
            problem = True
        if seal is not None and seal.event_id != event.id:
            if seal.event_id not in ids:  # (an event moved here from elsewhere is named as reordered below)
                found("edited", seq, kind, "replaced by another event")
            problem = True
        elif seal is not None and seal.event_hash != event.hash:
            found("edited", seq, kind, "rehashed since it was sealed")
            problem = True
        if _redacted(event.data) and (purged_from is None or purged_from < event.seq):
            found("redacted_without_purge", seq, kind)
            problem = True
        prev = None if problem else event.hash
    for seq, seal in seals.items():
        moved_event = ids.get(seal.event_id)
        if moved_event is not None and moved_event.seq != seq:
            found("reordered", seq, seal.kind, f"now at seq {moved_event.seq}")
        elif seq not in by_seq and seq >= count:
            found("truncated", seq, seal.kind, "removed from the end of the record")
    tail = by_seq.get(count - 1)
    if tail is not None and tail.hash != (check.events_hash or GENESIS):
        found("truncated", count, None, "the record's last hash does not match its last event")
    if count == 0 and check.events_hash is not None:
        found("truncated", 0, None, "the record had events")


def _rehashed(events: list[CheckEvent]) -> dict[int, tuple[str, str]]:
    """seq -> (stored hash, hash under today's rule) as ``rehashed`` events vouch for them.

    A rehashed event is itself chained and sealed like any other, so what it vouches for is as tamper-evident as
    the event it replaces; it only vouches for events before it.
    """
    vouched: dict[int, tuple[str, str]] = {}
    for event in events:
        if event.kind != REHASHED_KIND:
            continue
        for entry in event.data.get("events", []):
            if isinstance(entry, dict) and isinstance(entry.get("seq"), int) and entry["seq"] < event.seq:
                vouched[entry["seq"]] = (str(entry.get("was")), str(entry.get("now")))
    return vouched


def _recompute(event: CheckEvent, seq: int) -> str:
    return event_hash(event.check_id, seq, event.at, event.kind, event.actor, event.data, event.salt, event.prev_hash)


def _redacted(value: object) -> bool:
    if isinstance(value, dict):
        return REDACTED in value or any(_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(_redacted(v) for v in value)
    return False


def _verify_workspaces(report: AuditReport, heads: Iterable[AuditHead], seals: list[AuditSeal]) -> None:
    chains: dict[tuple[str, str], list[AuditSeal]] = defaultdict(list)
    for seal in seals:
        chains[(seal.platform, seal.workspace_id)].append(seal)
    head_of = {(h.platform, h.workspace_id): h for h in heads}
    for place in sorted(set(chains) | set(head_of)):
        platform, workspace_id = place
        chain = sorted(chains.get(place, []), key=lambda s: s.workspace_seq)
        prev, expected = GENESIS, 0
        for seal in chain:
            if seal.workspace_seq != expected:
                for missing in range(expected, seal.workspace_seq):
                    report.add(Finding("seal_missing", platform, workspace_id, None, missing, None))
                prev = seal.workspace_hash  # carry on from here so one gap is reported once
            else:
                recomputed = seal_hash(
                    platform,
                    workspace_id,
                    seal.workspace_seq,
                    seal.check_id,
                    seal.seq,
                    seal.kind,
                    seal.event_hash,
                    prev,
                )
                if recomputed != seal.workspace_hash:
                    report.add(
                        Finding("seal_edited", platform, workspace_id, str(seal.check_id), seal.seq, seal.kind, "seal")
                    )
                prev = seal.workspace_hash
            expected = seal.workspace_seq + 1
        head = head_of.get(place)
        if head is None:
            report.add(Finding("head_mismatch", platform, workspace_id, None, expected, None, "chain head missing"))
            continue
        report.heads.append((platform, workspace_id, head.seq, head.hash))
        if head.seq != expected or head.hash != prev:
            for missing in range(expected, head.seq):
                report.add(Finding("seal_missing", platform, workspace_id, None, missing, None, "at the end"))
            if head.seq == expected:
                report.add(Finding("head_mismatch", platform, workspace_id, None, expected, None))
