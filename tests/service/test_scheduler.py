"""The scheduler's loop: when it wakes, and its delivery lanes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.db.models import CheckEvent, OutboxMessage
from bot.runtime import Runtime
from bot.scheduler import MIN_WAIT, Scheduler
from bot.services.audit import verify
from dialogs.messages import FollowUpPrompt, Info
from tests.support.deliverers import RecordingDeliverer
from tests.support.followups import RECIPIENT, seed_due_follow_ups, share_with_colleague
from tests.support.settings import T0, make_settings


class RunningClock:
    """Real time, starting at a chosen instant (the loop sleeps for real, so its clock must move)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._at = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._at)


def queued(user_id: str, due_at: datetime, lease_until: datetime | None = None) -> OutboxMessage:
    return OutboxMessage(
        id=uuid.uuid4(),
        platform="slack",
        workspace_id="T1",
        user_id=user_id,
        purpose="notice",
        message=Info(title="t", lines=("l",)).model_dump(mode="json"),
        status="queued",
        attempts=0,
        due_at=due_at,
        lease_until=lease_until,
        claimed_by="other" if lease_until else None,
        created_at=due_at,
    )


async def test_the_scheduler_sleeps_until_the_next_follow_up_or_message_falls_due(
    runtime: Runtime, clock: ManualClock
) -> None:
    scheduler = Scheduler(runtime, {"slack": RecordingDeliverer()}, instance_id="t")
    assert await scheduler.until_next_due(15) == 15  # nothing scheduled: the interval
    await share_with_colleague(runtime)  # the recipient is asked in 4 hours
    assert await scheduler.until_next_due(15) == 15
    assert await scheduler.until_next_due(86400) == pytest.approx(4 * 3600)
    clock.advance(timedelta(hours=4, seconds=-3))
    assert await scheduler.until_next_due(15) == pytest.approx(3)
    clock.advance(timedelta(seconds=10))
    assert await scheduler.until_next_due(15) == MIN_WAIT  # overdue: at once, but never a spin
    await scheduler.run_once()  # asked; the nudge is a day away
    assert await scheduler.until_next_due(15) == 15

    now = clock.now()
    async with runtime.sessions.begin() as session:
        # claimed by another instance whose lease still runs: not this one's to wake for
        session.add(queued("U1", now - timedelta(seconds=1), lease_until=now + timedelta(minutes=2)))
    assert await scheduler.until_next_due(15) == 15
    async with runtime.sessions.begin() as session:
        session.add(queued("U2", now + timedelta(seconds=5)))
    assert await scheduler.until_next_due(15) == pytest.approx(5)


async def test_the_loop_wakes_when_a_follow_up_falls_due_not_an_interval_later(db_url: str) -> None:
    settings = make_settings(
        db_url, sharecheck_confirm_after=timedelta(seconds=1), sharecheck_scheduler_interval=timedelta(seconds=60)
    )
    runtime = await Runtime.create(settings, clock=RunningClock(T0), migrate=True)
    platform = RecordingDeliverer()
    stop = asyncio.Event()
    try:
        await share_with_colleague(runtime)  # due a second from now; the loop's first pass finds nothing
        task = asyncio.create_task(Scheduler(runtime, {"slack": platform}).run(stop))
        started = time.monotonic()
        await platform.wait_to(RECIPIENT.user_id, within=20)
        stop.set()
        await asyncio.wait_for(task, 10)
        assert [type(m) for m in platform.to(RECIPIENT.user_id)] == [FollowUpPrompt]
        assert time.monotonic() - started < 20  # not the 60 s interval
    finally:
        stop.set()
        await runtime.close()


async def test_lanes_deliver_every_follow_up_once_while_advancing_runs_beside_them(
    runtime: Runtime, clock: ManualClock
) -> None:
    platform = RecordingDeliverer(delay=0.001)
    ids = await seed_due_follow_ups(runtime, 450)
    stats = await Scheduler(runtime, {"slack": platform}, instance_id="t", batch=50, lanes=3).run_once()
    assert stats.advanced == stats.delivered == 450
    asked = sorted(m.follow_up_id for m in (s.message for s in platform.sent) if isinstance(m, FollowUpPrompt))
    assert asked == sorted(str(i) for i in ids)
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).where(OutboxMessage.status != "sent")) == 0
        asked_events = await session.scalar(
            select(func.count()).select_from(CheckEvent).where(CheckEvent.kind == "follow_up_asked")
        )
    assert asked_events == 450
    report = await verify(runtime.sessions)
    assert report.intact, report.findings


@pytest.mark.postgres
async def test_concurrent_claims_on_postgres_never_take_more_than_a_batch(
    postgres_url: str, clock: ManualClock
) -> None:
    runtimes = [await Runtime.create(make_settings(postgres_url), clock=clock, migrate=i == 0) for i in range(2)]
    try:
        async with runtimes[0].sessions.begin() as session:
            session.add_all(queued(f"U{k}", clock.now() - timedelta(seconds=1)) for k in range(1500))
        schedulers = [Scheduler(rt, {}, instance_id=f"s{i}", batch=25) for i, rt in enumerate(runtimes * 3)]
        sizes: list[int] = []
        claimed: list[uuid.UUID] = []

        async def claim_all(scheduler: Scheduler) -> None:
            while batch := await scheduler.claim():
                sizes.append(len(batch))
                claimed.extend(item.id for item in batch)

        await asyncio.gather(*(claim_all(s) for s in schedulers))
        assert max(sizes) <= 25, sorted(sizes)[-5:]
        assert len(claimed) == len(set(claimed)) == 1500
    finally:
        for rt in runtimes:
            await rt.close()
