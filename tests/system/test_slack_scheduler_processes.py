"""`sharecheck scheduler` processes on the real PostgreSQL, delivering through the real Slack deliverer to the fake
Web API served from this test process: two instances send each follow-up once; a killed one loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.clock import ManualClock
from bot.db.models import OutboxMessage
from bot.runtime import Runtime
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.followups import seed_due_follow_ups
from tests.support.settings import make_settings
from tests.support.slack_requests import SECRET

pytestmark = pytest.mark.postgres

N = 2000


async def wait_until(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s")
        await asyncio.sleep(0.2)  # the fake answers from this loop: poll gently


class Schedulers:
    """`python -m sharecheck scheduler` subprocesses with their output in files."""

    def __init__(self, database_url: str, fake: FakeSlack, workdir: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "SHARECHECK_SCHEDULER_INTERVAL": "0.2",
            "SHARECHECK_WORKING_HOURS": "always",
        }
        self.workdir = workdir  # no stray .env is read from here
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        log = (self.workdir / f"scheduler-{len(self.procs)}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sharecheck", "scheduler", env=self.env, cwd=self.workdir, stdout=log, stderr=log
        )
        log.close()
        self.procs.append(proc)
        return proc

    async def stop(self, proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
        if proc.returncode is None:
            proc.send_signal(sig)
        return await asyncio.wait_for(proc.wait(), 20)

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                await self.stop(proc, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(self.workdir.glob("scheduler-*.log")))


@pytest.fixture
async def setup(
    postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Runtime, FakeSlack, Schedulers, list[uuid.UUID]]]:
    fake = FakeSlack()
    await fake.start()
    # the subprocesses run on the system clock: seed rows due a minute ago by it
    clock = ManualClock(datetime.now(UTC) - timedelta(minutes=1))
    runtime = await Runtime.create(make_settings(postgres_url), clock=clock, migrate=True)
    schedulers = Schedulers(postgres_url, fake, tmp_path)
    try:
        ids = await seed_due_follow_ups(runtime, N)
        yield runtime, fake, schedulers, ids
    finally:
        await schedulers.stop_all()
        await runtime.close()
        await fake.stop()


async def test_two_scheduler_processes_ask_each_follow_up_exactly_once(
    setup: tuple[Runtime, FakeSlack, Schedulers, list[uuid.UUID]],
) -> None:
    runtime, fake, schedulers, ids = setup
    a, b = await schedulers.start(), await schedulers.start()
    try:
        await wait_until(lambda: len(fake.calls_to("chat.postMessage")) >= N, within=45)
    except AssertionError:
        raise AssertionError(schedulers.logs()) from None
    assert await schedulers.stop(a) == 0 and await schedulers.stop(b) == 0  # SIGTERM: a clean stop
    await fake.settled()  # both have exited: anything they sent has landed, so a duplicate would show now
    counts = fake.follow_ups_asked()
    assert sorted(counts) == sorted(str(i) for i in ids)
    assert set(counts.values()) == {1}, f"duplicates: {sum(c - 1 for c in counts.values())}"
    async with runtime.sessions() as s:
        by = dict(
            (await s.execute(select(OutboxMessage.claimed_by, func.count()).group_by(OutboxMessage.claimed_by))).all()
        )
        unsent = await s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent"))
    assert len(by) == 2, f"both processes did work: {by}"
    assert unsent == 0


async def test_a_scheduler_killed_mid_batch_loses_nothing(
    setup: tuple[Runtime, FakeSlack, Schedulers, list[uuid.UUID]],
) -> None:
    runtime, fake, schedulers, ids = setup
    fake.delay = 0.02  # a slow Slack: the kill lands while a batch is being delivered
    first = await schedulers.start()
    await wait_until(lambda: len(fake.calls_to("chat.postMessage")) >= 300, within=30)
    await schedulers.stop(first, signal.SIGKILL)
    await fake.settled()  # requests the dead process had already sent still land at the (slow) fake
    before_restart = fake.follow_ups_asked()
    async with runtime.sessions.begin() as s:
        # the dead instance's claims: delivered or not, they were never marked sent
        in_flight = await s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == "queued", OutboxMessage.lease_until.is_not(None))
        )
        # the lease (2 minutes) would hand them over by itself; move it into the past instead of waiting
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "queued", OutboxMessage.lease_until.is_not(None))
            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert in_flight, "the kill should land mid-batch"
    fake.delay = 0.0
    await schedulers.start()
    await wait_until(lambda: len(fake.follow_ups_asked()) >= N, within=45)
    await schedulers.stop_all()
    await fake.settled()  # nothing more can arrive: the counts are final
    counts = fake.follow_ups_asked()
    assert sorted(counts) == sorted(str(i) for i in ids), "nothing lost"
    duplicates = sum(c - 1 for c in counts.values())
    # only the batch in flight at the kill can be asked twice (at least once delivery); everything else once
    assert duplicates <= in_flight
    assert all(counts[f] == 1 for f in counts if f not in before_restart)
    print(
        f"killed mid-batch: {len(before_restart)} asked before the kill, {in_flight} claims in flight, "
        f"{duplicates} asked twice"
    )
