"""The scheduler: advances due follow-ups and delivers the outbox, safely from several instances.

Passes, each its own transaction:
1. follow-ups whose time has come are asked, nudged or escalated (rows locked with SKIP LOCKED);
2. queued outbox messages are claimed with a lease (``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
   SKIP LOCKED) RETURNING``), delivered concurrently, then marked sent, retried with backoff and
   jitter, or closed as undeliverable with the sender told. A crashed instance's claims expire with
   their lease and are taken over. Delivery is at least once; claims make duplicates rare;
3. new record events are sealed into their workspace's audit chain (bot.services.audit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import FollowUp, OutboxMessage
from bot.delivery import (
    OUTBOUND,
    PULLED_PLATFORMS,
    Delivered,
    Deliverer,
    DeliveryResult,
    Refused,
    RetryLater,
    Undeliverable,
)
from bot.followups.models import QUESTION_PURPOSES, SCHEDULED_STATES
from bot.metrics import DELIVERIES, DELIVERY_RETRIES, PLATFORM_API_ERRORS, SCHEDULER_LAG
from bot.runtime import Runtime
from bot.services.audit import seal_pending
from bot.services.records import append_event

log = logging.getLogger(__name__)

MIN_WAIT = 0.05
"""Shortest sleep between passes, in seconds."""
LANE_WAIT = 0.25
"""Longest a delivery lane waits for advancing to queue more before it looks at the outbox again, in seconds."""


class _Generation:
    """A counter that tasks can wait to see change: advancing bumps it after each batch it queued."""

    def __init__(self) -> None:
        self.value = 0
        self._changed = asyncio.Event()

    def bump(self) -> None:
        self.value += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_past(self, seen: int, within: float) -> None:
        if self.value != seen:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)


@dataclass
class PassStats:
    advanced: int = 0
    digests: int = 0
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    sealed: int = 0
    lags: list[float] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return self.advanced > 0 or self.claimed > 0 or self.digests > 0


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    platform: str
    workspace_id: str
    user_id: str
    purpose: str
    follow_up_id: uuid.UUID | None
    message: dict[str, Any]
    attempts: int
    due_at: datetime


class Scheduler:
    def __init__(
        self,
        runtime: Runtime,
        deliverers: Mapping[str, Deliverer],
        instance_id: str | None = None,
        batch: int = 200,
        lease: timedelta = timedelta(minutes=2),
        concurrency: int = 32,
        max_attempts: int = 12,
        refused_attempts: int = 3,
        rng: random.Random | None = None,
        lanes: int = 2,
    ) -> None:
        self.runtime = runtime
        self.deliverers = dict(deliverers)
        self.instance_id = instance_id or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        self.refused_attempts = refused_attempts
        """Tries for a message the platform refuses as malformed: a few (a release or a platform fix may come), not
        the dozen a throttled one gets, so the sender hears soon that it did not go out."""
        self.lanes = lanes
        self._limit = asyncio.Semaphore(concurrency)
        self._sqlite_turn = asyncio.Lock() if runtime.settings.is_sqlite else None
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._warned: set[str] = set()

    async def run_once(self, housekeeping: bool = True) -> PassStats:
        """One pass: everything due now is advanced and delivered (in batches) before returning.

        ``housekeeping`` also queues due digests first and, at the end, seals new events and refreshes the
        gauges: the loop does that once per interval, not on every pass it wakes early for.
        """
        stats = PassStats()
        if housekeeping:
            async with self._db_turn():
                stats.digests = await self.runtime.digests.scheduled.queue_due(self.runtime.packs.pack())
        # advancing is bound by database round trips and delivery by the platform's: overlap them, so the
        # first messages go out while later follow-ups are still being advanced
        queued = _Generation()
        advancing = asyncio.create_task(self._advance_all(stats, queued))
        try:
            # several delivery lanes, each claim -> deliver -> settle: while one lane waits on the database
            # (claiming, marking sent), the others keep the platform busy
            await asyncio.gather(*(self._deliver_lane(stats, advancing, queued) for _ in range(self.lanes)))
            await advancing
        finally:
            if not advancing.done():
                advancing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await advancing
        if housekeeping:
            stats.sealed = await seal_pending(self.runtime.sessions, self.runtime.clock.now())
            await self.runtime.gauges.refresh(force=True)
        return stats

    async def _advance_all(self, stats: PassStats, queued: _Generation) -> None:
        """Advance until nothing is due. While follow-ups keep coming due one after another, the pass goes on
        (up to an interval) instead of ending and leaving them to the next: ending it is what made them wait."""
        started = time.monotonic()
        limit = self.runtime.settings.sharecheck_scheduler_interval.total_seconds()
        try:
            while True:
                async with self._db_turn():
                    advanced = await self.runtime.followups.scheduled.advance_due(self.batch)
                stats.advanced += advanced
                if advanced:
                    queued.bump()  # the lanes claim the new messages now, not at their next look
                if advanced == self.batch:
                    continue  # a backlog: drain it
                if advanced == 0 or time.monotonic() - started >= limit:
                    return
                # a few at a time: let some more come due, so each batch costs its round trips for more than
                # one or two (and two instances do not take turns at the same few rows)
                await asyncio.sleep(MIN_WAIT)
        finally:
            queued.bump()  # and see that advancing has finished

    async def _deliver_lane(self, stats: PassStats, advancing: asyncio.Task[None], queued: _Generation) -> None:
        """Deliver until nothing is due and advancing (which queues more) has finished."""
        while True:
            finished = advancing.done()  # read before claiming: what it queued last is then claimable
            seen = queued.value
            claimed = await self.deliver_due(stats)
            if claimed < self.batch:
                if finished:
                    return
                await queued.wait_past(seen, within=LANE_WAIT)

    def _db_turn(self) -> contextlib.AbstractAsyncContextManager[object]:
        """SQLite has one writer, and a transaction that reads before it writes fails (it does not wait) when
        another wrote in between: this instance's passes take turns there. PostgreSQL needs no turns."""
        return self._sqlite_turn if self._sqlite_turn is not None else contextlib.nullcontext()

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.runtime.settings.sharecheck_scheduler_interval.total_seconds()
        log.info("scheduler %s started (every %ss)", self.instance_id, interval)
        try:
            kept: float | None = None
            while not stop.is_set():
                wait = interval
                try:
                    # passes woken early by a due follow-up skip the per-lead digest queries and the sealing,
                    # which need run only once per interval however busy it is
                    housekeeping = kept is None or time.monotonic() - kept >= interval
                    if housekeeping:
                        kept = time.monotonic()
                    await self.run_once(housekeeping)
                    wait = await self.until_next_due(interval)
                except Exception:  # a failed pass must not stop the scheduler; the next one retries
                    log.exception("scheduler pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            released = await self.release()
            await self.close()
            log.info("scheduler %s stopped; released %d claims", self.instance_id, released)

    async def until_next_due(self, interval: float) -> float:
        """Seconds until the next follow-up or queued message falls due, at most ``interval``.

        Follow-up times are known hours ahead, so the scheduler wakes when one comes due instead of up to an
        interval later: the lag stays at the pass's own time whatever the interval. The interval still bounds
        the sleep, for work it cannot see coming (digests, messages queued by other instances, expired leases).
        """
        now = self.runtime.clock.now()
        follow_up = select(func.min(FollowUp.due_at)).where(FollowUp.state.in_(SCHEDULED_STATES))
        message = select(func.min(OutboxMessage.due_at)).where(
            OutboxMessage.status == "queued",
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
        )
        async with self.runtime.sessions() as session:
            row = (await session.execute(select(follow_up.scalar_subquery(), message.scalar_subquery()))).one()
        due: list[datetime] = [at for at in row if at is not None]
        if not due:
            return interval
        # a floor: what is due but still locked by another instance's pass must not make this one spin
        return min(interval, max((min(due) - now).total_seconds(), MIN_WAIT))

    async def close(self) -> None:
        """Close the deliverers that hold connections (an optional ``aclose`` beside the Deliverer protocol)."""
        for deliverer in self.deliverers.values():
            aclose = getattr(deliverer, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):  # closing must not stop the others from closing
                    await aclose()

    # --- outbox ---------------------------------------------------------------------------

    async def claim(self) -> list[Claimed]:
        now = self.runtime.clock.now()
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "queued",
                OutboxMessage.due_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                OutboxMessage.platform.not_in(PULLED_PLATFORMS),
            )
            .order_by(OutboxMessage.due_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
            # a CTE, not an IN (subquery): PostgreSQL may run such a subquery again (rechecking a row another
            # instance changed meanwhile), and each run skips to other rows, so one claim took several batches;
            # a CTE with FOR UPDATE is run once
            .cte("due")
        )
        stmt = (
            update(OutboxMessage)
            .where(
                OutboxMessage.id == due.c.id,
                OutboxMessage.status == "queued",
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
            )
            .values(lease_until=now + self.lease, claimed_by=self.instance_id, attempts=OutboxMessage.attempts + 1)
            .returning(
                OutboxMessage.id,
                OutboxMessage.platform,
                OutboxMessage.workspace_id,
                OutboxMessage.user_id,
                OutboxMessage.purpose,
                OutboxMessage.follow_up_id,
                OutboxMessage.message,
                OutboxMessage.attempts,
                OutboxMessage.due_at,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._db_turn(), self.runtime.sessions.begin() as session:
            rows = (await session.execute(stmt)).all()
        # RETURNING comes in no set order (PostgreSQL): sends start oldest first, so a lead's missed digests
        # arrive in the order of their periods
        return sorted((Claimed(*row) for row in rows), key=lambda c: c.due_at)

    async def deliver_due(self, stats: PassStats | None = None) -> int:
        stats = stats if stats is not None else PassStats()
        claimed = await self.claim()
        stats.claimed += len(claimed)
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._deliver(item) for item in claimed))
        now = self.runtime.clock.now()
        sent: list[dict[str, Any]] = []
        async with self._db_turn(), self.runtime.sessions.begin() as session:
            for item, result in zip(claimed, results, strict=True):
                if isinstance(result, RetryLater) and item.attempts >= self.max_attempts:
                    result = Undeliverable(f"gave up after {item.attempts} attempts: {result.reason}")
                elif isinstance(result, Refused):
                    await self._refused(session, item, result, now)
                    if item.attempts >= min(self.refused_attempts, self.max_attempts):
                        result = Undeliverable(f"gave up after {item.attempts} attempts: {result.reason}", ours=True)
                DELIVERIES.labels(item.platform, type(result).__name__).inc()
                if isinstance(result, Delivered):
                    stats.delivered += 1
                    lag = (now - item.due_at).total_seconds()
                    stats.lags.append(lag)
                    SCHEDULER_LAG.observe(max(lag, 0.0))
                    sent.append({"b_id": item.id, "b_ref": result.ref})
                    continue
                # built only for the rare outcomes: an expression per delivered message cost more than its SQL
                mine = (
                    OutboxMessage.id == item.id,
                    OutboxMessage.claimed_by == self.instance_id,
                    OutboxMessage.status == "queued",
                )
                if isinstance(result, RetryLater | Refused):
                    stats.retried += 1
                    DELIVERY_RETRIES.labels(item.platform).inc()
                    await session.execute(
                        update(OutboxMessage)
                        .where(*mine)
                        .values(
                            due_at=now
                            + self._backoff(item.attempts, result.after if isinstance(result, RetryLater) else None),
                            lease_until=None,
                            last_error=result.reason[:200],
                        )
                        .execution_options(synchronize_session=False)
                    )
                else:
                    stats.failed += 1
                    await session.execute(
                        update(OutboxMessage)
                        .where(*mine)
                        .values(status="failed", lease_until=None, last_error=result.reason[:200])
                        .execution_options(synchronize_session=False)
                    )
                    await self._undeliverable(session, item, result, now)
            if sent:
                # the common case, one executemany for the whole batch instead of a statement per message
                table = cast(Table, OutboxMessage.__table__)
                await session.execute(
                    update(table)
                    .where(
                        table.c.id == bindparam("b_id"),
                        table.c.claimed_by == self.instance_id,
                        table.c.status == "queued",
                    )
                    .values(status="sent", sent_at=now, delivery_ref=bindparam("b_ref"), lease_until=None),
                    sent,
                )
        return len(claimed)

    async def _deliver(self, item: Claimed) -> DeliveryResult:
        deliverer = self.deliverers.get(item.platform)
        if deliverer is None:
            if item.platform not in self._warned:
                self._warned.add(item.platform)
                log.warning("no deliverer for platform %s: its messages wait in the outbox", item.platform)
            PLATFORM_API_ERRORS.labels(item.platform, "not_configured").inc()
            return RetryLater(f"{item.platform} is not configured on this instance", after=300)
        try:
            message = OUTBOUND.validate_python(item.message)
        except ValidationError:
            return Undeliverable("stored message could not be read")
        async with self._limit:
            try:
                result = await deliverer.deliver(item.workspace_id, item.user_id, message)
            except Exception as exc:  # a deliverer bug or network fault must become a retry, never a lost message
                log.warning("delivery of %s raised %s; will retry", item.id, type(exc).__name__)
                PLATFORM_API_ERRORS.labels(item.platform, "raised").inc()
                return RetryLater(type(exc).__name__)
        if isinstance(result, RetryLater):
            PLATFORM_API_ERRORS.labels(item.platform, "temporary").inc()
        elif isinstance(result, Refused):
            PLATFORM_API_ERRORS.labels(item.platform, "refused").inc()
        elif isinstance(result, Undeliverable):
            PLATFORM_API_ERRORS.labels(item.platform, "permanent").inc()
        return result

    async def _refused(self, session: AsyncSession, item: Claimed, result: Refused, now: datetime) -> None:
        """Each refusal of our own request goes into the check's trail, so a give-up later has its history."""
        # a warning per attempt (the deliverer has logged the error); the give-up is logged as an error
        log.warning(
            "outbox %s (%s) refused as malformed, attempt %d: a ShareCheck fault, not the recipient's",
            item.id,
            item.purpose,
            item.attempts,
        )
        fu = await session.get(FollowUp, item.follow_up_id) if item.follow_up_id is not None else None
        if fu is not None:
            await append_event(
                session,
                fu.check_id,
                "delivery_refused",
                "sharecheck:scheduler",
                now,
                {
                    "follow_up": str(fu.id),
                    "purpose": item.purpose,
                    "to": item.user_id,
                    "reason": result.reason,
                    "attempt": item.attempts,
                    "fault": "sharecheck",
                },
            )

    async def _undeliverable(self, session: AsyncSession, item: Claimed, result: Undeliverable, now: datetime) -> None:
        if result.ours:
            log.error("outbox %s (%s) not sent, a ShareCheck fault: %s", item.id, item.purpose, result.reason)
        else:
            log.warning("outbox %s (%s) undeliverable: %s", item.id, item.purpose, result.reason)
        if item.follow_up_id is None:
            return
        if item.purpose in QUESTION_PURPOSES:
            await self.runtime.followups.scheduled.undeliverable(
                session, item.follow_up_id, now, result.reason, ours=result.ours
            )
            return
        fu = await session.get(FollowUp, item.follow_up_id)
        if fu is not None:
            fault = {"fault": "sharecheck"} if result.ours else {}
            await append_event(
                session,
                fu.check_id,
                "notice_undeliverable",
                "sharecheck:scheduler",
                now,
                {
                    "follow_up": str(fu.id),
                    "purpose": item.purpose,
                    "to": item.user_id,
                    "reason": result.reason,
                    **fault,
                },
            )

    def _backoff(self, attempts: int, after: float | None) -> timedelta:
        base = min(900.0, 2.0 * 2 ** max(attempts - 1, 0))
        delay = base * (0.5 + self._rng.random() / 2)  # jitter spreads retries from many instances
        return timedelta(seconds=max(delay, after or 0.0))

    async def release(self) -> int:
        """Give back this instance's unfinished claims (graceful shutdown)."""
        async with self.runtime.sessions.begin() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.claimed_by == self.instance_id,
                    OutboxMessage.status == "queued",
                    OutboxMessage.lease_until.is_not(None),
                )
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
