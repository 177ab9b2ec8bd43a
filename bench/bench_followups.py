"""Due follow-ups delivered to the fake Slack Web API by `sharecheck scheduler` processes, against a bare client.

Runs: 1 and 2 scheduler processes on a throwaway PostgreSQL database (127.0.0.1:5432), 1 on SQLite. For each,
the schedulers are started first (idle), then 10,000 follow-ups are made due at one instant T; the figures are
follow-ups per second (N / (last sent - T)), duplicates and misses (counted from what the fake Web API received),
and the scheduler lag p99 (T -> sent_at of each outbox row). Baseline: the same number of chat.postMessage calls,
same blocks, made directly with one AsyncWebClient (32 in flight) from its own process to the same fake: what the
platform side costs without the database, the claims and the state machine. The fake runs in this process.
Prints figures, then one line of JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
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
CONCURRENCY = 32
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET = 500.0


async def wait_until(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within}s")
        await asyncio.sleep(0.1)


async def seed(url: str, n: int) -> tuple[Runtime, set[str]]:
    """n shared checks by n practitioners, each with its follow-up due a day from now (idle schedulers leave them
    alone until ``make_due``). Each follow-up has its own check and trail, as in use: follow-ups hanging off a single
    check would all queue on that check's row lock."""
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
                "due_at": later,
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
    return runtime, {str(f["id"]) for f in follow_ups}


async def make_due(runtime: Runtime) -> datetime:
    later = runtime.clock.now()
    now = datetime.now(UTC)
    async with runtime.sessions.begin() as s:
        await s.execute(update(FollowUp).where(FollowUp.due_at == later).values(due_at=now))
    return now


async def start_schedulers(url: str, fake: FakeSlack, count: int, workdir: Path) -> list[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_API_URL": fake.api_url,
        "SHARECHECK_SCHEDULER_INTERVAL": "0.2",
        "SHARECHECK_WORKING_HOURS": "always",
    }
    procs = []
    for i in range(count):
        log = (workdir / f"scheduler-{i}.log").open("wb")
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "scheduler", env=env, cwd=workdir, stdout=log, stderr=log
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


async def run_case(label: str, url: str, fake: FakeSlack, instances: int) -> dict[str, Any]:
    fake.calls.clear()
    fake.messages.clear()
    runtime, ids = await seed(url, N)
    with tempfile.TemporaryDirectory() as tmp:
        procs = await start_schedulers(url, fake, instances, Path(tmp))
        try:
            t0 = await make_due(runtime)
            started = time.perf_counter()
            await wait_until(lambda: len(fake.calls_to("chat.postMessage")) >= N, 600)
            wall = time.perf_counter() - started
            await asyncio.sleep(1.0)  # late duplicates would show up here
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                await asyncio.wait_for(proc.wait(), 30)
    counts = fake.follow_ups_asked()
    async with runtime.sessions() as s:
        sent = [
            row
            for row in (await s.execute(select(OutboxMessage.sent_at).where(OutboxMessage.purpose == "ask"))).scalars()
            if row is not None
        ]
    await runtime.close()
    lags = sorted((at - t0).total_seconds() for at in sent)
    rate = N / max(lags[-1], 1e-9)
    result = {
        "case": label,
        "instances": instances,
        "followups_per_s": round(rate, 1),
        "wall_s": round(wall, 2),
        "duplicates": sum(c - 1 for c in counts.values()),
        "misses": len(ids - set(counts)),
        "lag_p50_s": round(statistics.median(lags), 2),
        "lag_p99_s": round(lags[int(len(lags) * 0.99) - 1], 2),
    }
    print(
        f"{label}: {rate:,.0f} follow-ups/s ({N:,} in {lags[-1]:.2f} s), duplicates {result['duplicates']}, "
        f"misses {result['misses']}, lag p50 {result['lag_p50_s']} s, p99 {result['lag_p99_s']} s",
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


async def main() -> None:
    fake = FakeSlack()
    await fake.start()
    results: list[dict[str, Any]] = []
    try:
        base = await run_baseline(fake)
        for instances in (1, 2):
            name = await postgres_database()
            try:
                url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
                results.append(await run_case(f"postgres x{instances}", url, fake, instances))
            finally:
                await drop_database(name)
        with tempfile.TemporaryDirectory() as tmp:
            results.append(await run_case("sqlite x1", f"sqlite+aiosqlite:///{tmp}/bench.db", fake, 1))
    finally:
        await fake.stop()
    two = next(r for r in results if r["case"] == "postgres x2")
    ok = two["followups_per_s"] > TARGET and all(r["duplicates"] == 0 and r["misses"] == 0 for r in results)
    for r in results:
        print(f"{r['case']}: {r['followups_per_s'] / base:.2f} of the baseline")
    print(f"target: over {TARGET:.0f}/s with 2 instances, no duplicates, no misses -> {'met' if ok else 'MISSED'}")
    print(
        json.dumps(
            {
                "bench": "followups",
                "n": N,
                "baseline_posts_per_s": round(base, 1),
                "runs": results,
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
