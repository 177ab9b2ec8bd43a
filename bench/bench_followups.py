"""Due follow-ups delivered to the fake Slack Web API by `sharecheck scheduler` processes, against a bare client.

Burst (throughput): 1 and 2 scheduler processes on a throwaway PostgreSQL database (127.0.0.1:5432), 1 on SQLite.
For each, the schedulers are started first (idle, polling every 0.2 s), then N follow-ups (BENCH_FOLLOWUPS, 10,000)
are made due at one instant T; the figures are follow-ups per second (N / (last sent - T)), duplicates and misses
(counted from what the fake Web API received), and the lag T -> sent_at of each outbox row. A burst's lag is its
backlog divided by the throughput, so it says nothing about lag in use.

Steady (lag): 2 scheduler processes on PostgreSQL and 1 on SQLite, with the product's default 15 s interval, while
follow-ups come due one after another at BENCH_STEADY_RATE per second (below capacity) for BENCH_STEADY_SECONDS;
the figures are the lag p50 and p99 from each follow-up's own due time to the sent_at of its message.

Baseline: N chat.postMessage calls, same blocks, made directly with one AsyncWebClient (32 in flight) from its own
process to the same fake: what the platform side costs without the database, the claims and the state machine. The
fake runs in this process. Prints figures, then one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import insert, select, update

from adapters.slack import render
from bot.clock import ManualClock
from bot.db.models import Check, FollowUp, OutboxMessage
from bot.runtime import Runtime
from bot.settings import Settings
from dialogs.messages import ChoiceView, FollowUpPrompt
from tests.support.fake_slack import BOT_TOKEN, FakeSlack

N = int(os.environ.get("BENCH_FOLLOWUPS", "10000"))
STEADY_RATE = float(os.environ.get("BENCH_STEADY_RATE", "250"))
STEADY_SECONDS = float(os.environ.get("BENCH_STEADY_SECONDS", "8"))
LEAD_IN = 10.0
"""Seconds from seeding the steady schedule to its first due time: covers the schedulers' start-up."""
BURST_INTERVAL = "0.2"
"""The burst is made due behind the idle schedulers' backs, so they must look often; the steady runs need not."""
STEADY_INTERVAL = "PT15S"
"""The product's default."""
CONCURRENCY = 32
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET = 500.0
LAG_TARGET = 2.0


async def wait_until(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s")
        await asyncio.sleep(0.1)


async def seed(url: str, n: int, due: list[datetime] | None = None) -> tuple[Runtime, list[str]]:
    """n shared checks by n practitioners, each with its follow-up due at ``due[k]``, or else a day from now (idle
    schedulers leave them alone until ``make_due``). Each follow-up has its own check and trail, as in use: follow-ups
    hanging off a single check would all queue on that check's row lock. Returns the follow-up ids in order."""
    later = datetime.now(UTC) + timedelta(days=1)
    settings = Settings(_env_file=None, database_url=url)
    runtime = await Runtime.create(settings, clock=ManualClock(later), migrate=True)
    async with runtime.sessions.begin() as s:
        template: dict[str, Any] = {
            "platform": "slack",
            "workspace_id": "T1",
            "channel_id": "C1",
            "status": "completed",
            "pack_id": "children-england-2024",
            "pack_version": "1",
            "state": {},
            "revision": 1,
            "events_seq": 0,
            "started_at": later,
            "updated_at": later,
            "finished_at": later,
            "case_reference": "CS-1",
            "decision": "share",
        }
        checks = [{**template, "id": uuid.uuid4(), "user_id": f"US{k}"} for k in range(n)]
        follow_ups = [
            {
                "id": uuid.uuid4(),
                "check_id": check["id"],
                "platform": "slack",
                "workspace_id": "T1",
                "kind": "recipient_confirm",
                "sender_id": check["user_id"],
                "target_id": f"UR{k}",
                "case_reference": f"CS-{k}",
                "details": {"method": "secure email", "shared_on": "24 Nov 2026"},
                "state": "scheduled",
                "due_at": due[k] if due is not None else later,
                "escalate_at": later + timedelta(days=3),
                "nudges": 0,
                "version": 0,
                "created_at": later,
                "updated_at": later,
            }
            for k, check in enumerate(checks)
        ]
        for i in range(0, n, 1000):
            await s.execute(insert(Check), checks[i : i + 1000])
            await s.execute(insert(FollowUp), follow_ups[i : i + 1000])
    return runtime, [str(f["id"]) for f in follow_ups]


async def make_due(runtime: Runtime) -> datetime:
    later = runtime.clock.now()
    now = datetime.now(UTC)
    async with runtime.sessions.begin() as s:
        await s.execute(update(FollowUp).where(FollowUp.due_at == later).values(due_at=now))
    return now


async def start_schedulers(
    url: str, fake: FakeSlack, count: int, workdir: Path, interval: str
) -> list[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_API_URL": fake.api_url,
        "SHARECHECK_SCHEDULER_INTERVAL": interval,
        "SHARECHECK_WORKING_HOURS": "always",
    }
    procs = []
    for i in range(count):
        log = (workdir / f"scheduler-{i}.log").open("wb")
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sharecheck", "scheduler", env=env, cwd=workdir, stdout=log, stderr=log
            )
        )
        log.close()
    # wait until each says it started (the import and the first pass are not part of the measurement)
    await wait_until(
        lambda: all("started" in (workdir / f"scheduler-{i}.log").read_text(errors="replace") for i in range(count)),
        60,
    )
    await asyncio.sleep(0.5)
    return procs


async def stop_schedulers(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        await asyncio.wait_for(proc.wait(), 30)


async def sent_asks(runtime: Runtime) -> dict[str, datetime]:
    """When each follow-up's question was marked sent (the scheduler's clock, after the platform answered)."""
    async with runtime.sessions() as s:
        rows = await s.execute(
            select(OutboxMessage.follow_up_id, OutboxMessage.sent_at).where(OutboxMessage.purpose == "ask")
        )
        return {str(follow_up_id): at for follow_up_id, at in rows if at is not None}


def percentile(ordered: list[float], p: float) -> float:
    return ordered[max(0, math.ceil(len(ordered) * p) - 1)]


def outcome(fake: FakeSlack, ids: list[str]) -> tuple[int, int]:
    counts = fake.follow_ups_asked()
    return sum(c - 1 for c in counts.values()), len(set(ids) - set(counts))


async def run_case(label: str, url: str, fake: FakeSlack, instances: int) -> dict[str, Any]:
    """Burst: N follow-ups due at one instant; throughput."""
    fake.calls.clear()
    fake.messages.clear()
    runtime, ids = await seed(url, N)
    with tempfile.TemporaryDirectory() as tmp:
        procs = await start_schedulers(url, fake, instances, Path(tmp), BURST_INTERVAL)
        try:
            t0 = await make_due(runtime)
            started = time.perf_counter()
            await wait_until(lambda: len(fake.calls_to("chat.postMessage")) >= N, 600)
            wall = time.perf_counter() - started
            await asyncio.sleep(1.0)  # late duplicates would show up here
        finally:
            await stop_schedulers(procs)
    duplicates, misses = outcome(fake, ids)
    sent = await sent_asks(runtime)
    await runtime.close()
    lags = sorted((at - t0).total_seconds() for at in sent.values())
    rate = N / max(lags[-1], 1e-9)
    result = {
        "case": label,
        "instances": instances,
        "followups_per_s": round(rate, 1),
        "wall_s": round(wall, 2),
        "duplicates": duplicates,
        "misses": misses,
        "lag_p50_s": round(statistics.median(lags), 2),
        "lag_p99_s": round(percentile(lags, 0.99), 2),
    }
    print(
        f"{label} burst: {rate:,.0f} follow-ups/s ({N:,} in {lags[-1]:.2f} s), duplicates {duplicates}, "
        f"misses {misses}, burst lag p50 {result['lag_p50_s']} s, p99 {result['lag_p99_s']} s",
        flush=True,
    )
    return result


async def run_steady(label: str, url: str, fake: FakeSlack, instances: int) -> dict[str, Any]:
    """Steady: follow-ups come due one after another below capacity; lag from each one's own due time."""
    fake.calls.clear()
    fake.messages.clear()
    n = int(STEADY_RATE * STEADY_SECONDS)
    # the schedule is in place before the schedulers start, as in use (follow-ups are set hours ahead)
    first = datetime.now(UTC) + timedelta(seconds=LEAD_IN)
    due = [first + timedelta(seconds=k / STEADY_RATE) for k in range(n)]
    runtime, ids = await seed(url, n, due)
    with tempfile.TemporaryDirectory() as tmp:
        procs = await start_schedulers(url, fake, instances, Path(tmp), STEADY_INTERVAL)
        late_start = datetime.now(UTC) > first
        try:
            await wait_until(lambda: len(fake.calls_to("chat.postMessage")) >= n, LEAD_IN + STEADY_SECONDS + 300)
            await asyncio.sleep(1.0)
        finally:
            await stop_schedulers(procs)
    duplicates, misses = outcome(fake, ids)
    sent = await sent_asks(runtime)
    await runtime.close()
    due_of = dict(zip(ids, due, strict=True))
    lags = sorted((at - due_of[follow_up_id]).total_seconds() for follow_up_id, at in sent.items())
    result = {
        "case": label,
        "instances": instances,
        "rate_per_s": STEADY_RATE,
        "n": n,
        "duplicates": duplicates,
        "misses": misses,
        "lag_p50_s": round(statistics.median(lags), 3),
        "lag_p99_s": round(percentile(lags, 0.99), 3),
        "lag_max_s": round(lags[-1], 3),
        "late_start": late_start,
    }
    print(
        f"{label} steady ({STEADY_RATE:.0f}/s for {STEADY_SECONDS:.0f} s, interval {STEADY_INTERVAL}): lag p50 "
        f"{result['lag_p50_s']} s, p99 {result['lag_p99_s']} s, max {result['lag_max_s']} s, duplicates "
        f"{duplicates}, misses {misses}" + (" (schedulers started after the first was due)" if late_start else ""),
        flush=True,
    )
    return result


async def baseline_client(api_url: str, n: int) -> None:
    """Run in its own process: n chat.postMessage calls with a follow-up's blocks, CONCURRENCY in flight."""
    prompt = FollowUpPrompt(
        follow_up_id=str(uuid.uuid4()),
        title="Please confirm: information shared with you",
        lines=("{user:U0SENDER} shared information with you about case CS-1 by secure email on 24 Nov 2026.",),
        choices=(ChoiceView(id="understood", label="Received and understood", style="primary"),),
    )
    blocks, text = render.outbound_blocks(prompt)
    dicts = render.to_dicts(blocks)
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=api_url, session=session)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> None:
            async with limit:
                await client.chat_postMessage(channel=f"D{i}", blocks=dicts, text=text)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        print(json.dumps({"seconds": time.perf_counter() - started}))


async def run_baseline(fake: FakeSlack) -> float:
    fake.calls.clear()
    fake.messages.clear()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_followups",
        "--baseline",
        fake.api_url,
        str(N),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    seconds = float(json.loads(out.decode().strip().splitlines()[-1])["seconds"])
    rate = N / seconds
    print(f"baseline (AsyncWebClient alone, {CONCURRENCY} in flight): {rate:,.0f} chat.postMessage/s", flush=True)
    return rate


async def postgres_database() -> str:
    name = f"bench_followups_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def postgres_case(
    run: Callable[[str, str, FakeSlack, int], Awaitable[dict[str, Any]]], label: str, fake: FakeSlack, instances: int
) -> dict[str, Any]:
    name = await postgres_database()
    try:
        return await run(label, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", fake, instances)
    finally:
        await drop_database(name)


async def sqlite_case(
    run: Callable[[str, str, FakeSlack, int], Awaitable[dict[str, Any]]], label: str, fake: FakeSlack
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return await run(label, f"sqlite+aiosqlite:///{tmp}/bench.db", fake, 1)


async def main() -> None:
    fake = FakeSlack()
    await fake.start()
    results: list[dict[str, Any]] = []
    steady: list[dict[str, Any]] = []
    try:
        base = await run_baseline(fake)
        for instances in (1, 2):
            results.append(await postgres_case(run_case, f"postgres x{instances}", fake, instances))
        results.append(await sqlite_case(run_case, "sqlite x1", fake))
        steady.append(await postgres_case(run_steady, "postgres x2", fake, 2))
        steady.append(await sqlite_case(run_steady, "sqlite x1", fake))
    finally:
        await fake.stop()
    two = next(r for r in results if r["case"] == "postgres x2")
    clean = all(r["duplicates"] == 0 and r["misses"] == 0 for r in results + steady)
    ok = two["followups_per_s"] > TARGET and clean and all(r["lag_p99_s"] < LAG_TARGET for r in steady)
    for r in results:
        print(f"{r['case']}: {r['followups_per_s'] / base:.2f} of the baseline")
    print(
        f"target: over {TARGET:.0f}/s with 2 instances, no duplicates, no misses, steady lag p99 under "
        f"{LAG_TARGET:.0f} s -> {'met' if ok else 'MISSED'}"
    )
    print(
        json.dumps(
            {
                "bench": "followups",
                "n": N,
                "baseline_posts_per_s": round(base, 1),
                "runs": results,
                "steady": steady,
                "ratio_2_instances": round(two["followups_per_s"] / base, 3),
                "target_met": ok,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline":
        asyncio.run(baseline_client(sys.argv[2], int(sys.argv[3])))
    else:
        asyncio.run(main())
