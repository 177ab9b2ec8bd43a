"""Resident memory of `sharecheck serve` as stored half-finished conversations grow.

For 0, 10,000 and 50,000 half-finished checks in the database, a real `sharecheck serve` process
(SQLite, Teams in local emulator mode) is started, 1,000 of those practitioners 'resume' through
/api/messages (each loads its state and answers with a card to a local fake connector), and the
process's VmRSS is read. Baseline: the same server with no conversations stored. Target: under
250 MB and flat as conversations grow (state lives in the database, not in memory).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from adapters.teams.agent import EMULATOR_TENANT
from dialogs.content import load_pack
from dialogs.engine import Engine
from dialogs.state import Status
from tests.support.flows import answer_at

TENANT = "72f988bf-0000-4000-8000-00000000beef"
WORKSPACE = EMULATOR_TENANT  # emulator mode keeps every Teams user there, whatever tenant the body names
SIZES = [int(x) for x in os.environ.get("BENCH_MEMORY_SIZES", "0,10000,50000").split(",")]
RESUMES = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def half_finished_state() -> dict[str, Any]:
    """A check stopped halfway through the common share path: five screens answered, the 'how' form on screen."""
    engine = Engine(load_pack("children-england-2024"))
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    turn = engine.start(now)
    for _ in range(5):
        turn = engine.answer(turn.state, answer_at(engine.pack, turn.state, {"immediate_danger": "no"}), now)
    assert turn.state.status is Status.ACTIVE and turn.state.step == "how", turn.state.step
    return turn.state.model_dump(mode="json")


def seed(path: Path, n: int, state: dict[str, Any]) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    blob = json.dumps(state)
    now = "2026-11-24 10:00:00"
    con.executemany(
        "INSERT INTO checks (id, platform, workspace_id, user_id, channel_id, status, pack_id, pack_version, state,"
        " revision, events_seq, started_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            (
                uuid.uuid4().hex,
                "teams",
                WORKSPACE,
                f"29:user-{i}",
                None,
                "active",
                state["pack_id"],
                state["pack_version"],
                blob,
                state["revision"],
                0,
                now,
                now,
            )
            for i in range(n)
        ),
    )
    con.commit()
    con.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def fake_connector(port: int) -> web.AppRunner:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": uuid.uuid4().hex})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def run_size(n: int, state: dict[str, Any], connector_url: str) -> dict[str, float]:
    from bot.db.migrate import upgrade_async

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mem.db"
        await upgrade_async(f"sqlite+aiosqlite:///{path}")
        seed(path, n, state)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARECHECK_", "SLACK_", "MICROSOFT_"))}
        env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{path}", "PORT": str(port), "SHARECHECK_TEAMS_EMULATOR": "true"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "sharecheck", "serve", "--no-scheduler"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(200):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
                idle = rss_mb(proc.pid)
                rng = random.Random(1)
                users = [rng.randrange(max(n, 1)) for _ in range(RESUMES)]
                sem = asyncio.Semaphore(16)

                async def resume(i: int) -> int:
                    body = {
                        "type": "message",
                        "id": uuid.uuid4().hex,
                        "text": "resume",
                        "serviceUrl": connector_url,
                        "channelId": "msteams",
                        "from": {"id": f"29:user-{i}"},
                        "conversation": {"id": f"a:conv-{i}", "conversationType": "personal", "tenantId": TENANT},
                        "recipient": {"id": "28:bot"},
                        "channelData": {"tenant": {"id": TENANT}},
                    }
                    async with sem, http.post(f"http://127.0.0.1:{port}/api/messages", json=body) as r:
                        await r.read()
                        return r.status

                started = time.perf_counter()
                statuses = await asyncio.gather(*(resume(u) for u in users))
                elapsed = time.perf_counter() - started
                busy = rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    ok = sum(1 for s in statuses if s < 300)
    return {
        "stored": n,
        "rss_idle_mb": round(idle, 1),
        "rss_after_mb": round(busy, 1),
        "resumes_ok": ok,
        "resumes_per_s": round(RESUMES / elapsed, 1),
    }


async def main() -> None:
    state = half_finished_state()
    cport = free_port()
    runner = await fake_connector(cport)
    try:
        results = [await run_size(n, state, f"http://127.0.0.1:{cport}/") for n in SIZES]
    finally:
        await runner.cleanup()
    base = results[0]["rss_after_mb"]
    for r in results:
        print(
            f"{r['stored']:>7,} stored: RSS {r['rss_idle_mb']:.0f} MB idle, {r['rss_after_mb']:.0f} MB after "
            f"{RESUMES} resumes ({r['resumes_ok']} ok, {r['resumes_per_s']:.0f}/s); "
            f"ratio to the empty baseline {r['rss_after_mb'] / base:.2f}"
        )
    worst = max(r["rss_after_mb"] for r in results)
    print(f"target: under 250 MB and flat -> {'met' if worst < 250 and worst / base < 1.2 else 'MISSED'}")
    print(
        json.dumps({"bench": "memory", "results": results, "max_rss_mb": worst, "growth_ratio": round(worst / base, 3)})
    )


if __name__ == "__main__":
    asyncio.run(main())
