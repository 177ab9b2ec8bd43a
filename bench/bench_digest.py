"""One lead's weekly digest over 1,000,000 stored records, on SQLite and on PostgreSQL.

Records are bulk-loaded (two years of checks across 20 workspaces, a tenth with follow-ups); the
lead's scope is one whole workspace. Baseline: a bare COUNT over the lead's week on the same
database, i.e. the least any digest has to do; the ratio shows what the full digest costs on top.
Targets: under 1 s on PostgreSQL, under 3 s on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.db.models import Check
from bot.runtime import Runtime
from bot.settings import Settings

N = int(os.environ.get("BENCH_DIGEST_RECORDS", "1000000"))
WORKSPACES = 20
NOW = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)  # just after the Monday 09:00 digest
SPAN = timedelta(days=730)
PG_ADMIN = os.environ.get("SHARECHECK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
RULES = ["relevant", "accurate", "secure", "timely", "engage_safely", "consent_not_needed"]


def rows(n: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(42)
    checks, follow_ups = [], []
    for i in range(n):
        finished = NOW - SPAN * rng.random()
        decision = rng.choices(["share", "not_share", "seek_advice"], [70, 20, 10])[0]
        unsure = rng.sample(RULES, rng.choice([0, 0, 0, 1, 2]))
        snapshot = {
            "pack_id": "children-england-2024",
            "pack_version": "1.1.0",
            "decision": decision,
            "case_reference": f"CS-{i:07d}",
            "reasons": "Unexplained bruising reported by school; the health visitor needs the summary.",
            "immediate_risk": rng.random() < 0.03,
            "recipient": None,
            "fields": {"decision": decision, "method": "NHSmail or a DCB1596-accredited secure email"},
            "answers": [],
            "unsure_steps": [],
            "unsure_rules": unsure,
            "myths_shown": [],
        }
        cid = uuid.uuid4()
        ws = f"T{i % WORKSPACES:03d}"
        checks.append(
            (
                cid,
                "slack",
                ws,
                f"U{i % 5000:05d}",
                None,
                "completed",
                "children-england-2024",
                "1.1.0",
                "{}",
                30,
                40,
                finished - timedelta(minutes=6),
                finished,
                finished,
                f"CS-{i:07d}",
                decision,
                json.dumps(snapshot),
            )
        )
        if rng.random() < 0.1 and decision == "share":
            state = rng.choices(["confirmed", "awaiting", "escalated", "clarification"], [80, 10, 7, 3])[0]
            answered = finished + timedelta(hours=5) if state in ("confirmed", "clarification") else None
            follow_ups.append(
                (
                    uuid.uuid4(),
                    cid,
                    "slack",
                    ws,
                    "recipient_confirm",
                    f"U{i % 5000:05d}",
                    "UR",
                    f"CS-{i:07d}",
                    "{}",
                    state,
                    None,
                    finished + timedelta(hours=72),
                    0,
                    finished + timedelta(hours=72) if state == "escalated" else None,
                    answered,
                    finished,
                    finished,
                    0,
                )
            )
    return checks, follow_ups


CHECK_COLS = (
    "id, platform, workspace_id, user_id, channel_id, status, pack_id, pack_version, state, revision, events_seq,"
    " started_at, updated_at, finished_at, case_reference, decision, snapshot"
)
FU_COLS = (
    "id, check_id, platform, workspace_id, kind, sender_id, target_id, case_reference, details, state, due_at,"
    " escalate_at, nudges, escalated_at, answered_at, created_at, updated_at, version"
)


async def load_sqlite(path: Path, checks: list[tuple[Any, ...]], fus: list[tuple[Any, ...]]) -> None:
    import sqlite3

    def fmt(v: Any) -> Any:
        if isinstance(v, uuid.UUID):
            return v.hex
        if isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        return v

    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    marks = ",".join("?" * 17)
    con.executemany(f"INSERT INTO checks ({CHECK_COLS}) VALUES ({marks})", ([fmt(v) for v in r] for r in checks))
    marks = ",".join("?" * 18)
    con.executemany(f"INSERT INTO follow_ups ({FU_COLS}) VALUES ({marks})", ([fmt(v) for v in r] for r in fus))
    con.commit()
    con.execute("ANALYZE")
    con.close()


async def load_postgres(dsn: str, checks: list[tuple[Any, ...]], fus: list[tuple[Any, ...]]) -> None:
    con = await asyncpg.connect(dsn)
    try:
        await con.copy_records_to_table("checks", records=checks, columns=[c.strip() for c in CHECK_COLS.split(",")])
        await con.copy_records_to_table("follow_ups", records=fus, columns=[c.strip() for c in FU_COLS.split(",")])
        await con.execute("ANALYZE")
    finally:
        await con.close()


async def measure(url: str, rounds: int = 5) -> dict[str, float]:
    runtime = await Runtime.create(Settings(_env_file=None, database_url=url), clock=ManualClock(NOW), migrate=False)
    try:
        await runtime.leads.assign("slack", "T007", "ULEAD", "workspace", "", NOW - SPAN)
        pack = runtime.packs.pack()
        digest = await runtime.digests.build("slack", "T007", "ULEAD", pack)  # warm caches
        full, bare = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            digest = await runtime.digests.build("slack", "T007", "ULEAD", pack)
            full.append(time.perf_counter() - started)
            start, end = digest_window()
            started = time.perf_counter()
            async with runtime.sessions() as s:
                await s.scalar(
                    select(func.count())
                    .select_from(Check)
                    .where(
                        Check.platform == "slack",
                        Check.workspace_id == "T007",
                        Check.finished_at >= start,
                        Check.finished_at < end,
                    )
                )
            bare.append(time.perf_counter() - started)
        figures = {f.label: f.value for f in digest.figures}
        return {
            "digest_s": statistics.median(full),
            "count_only_s": statistics.median(bare),
            "checks_in_week": figures.get("Checks completed", 0),
            "needs_you": len(digest.needs_you),
        }
    finally:
        await runtime.close()


def digest_window() -> tuple[datetime, datetime]:
    end = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return end - timedelta(days=7), end


async def main() -> None:
    from bot.db.migrate import upgrade_async

    t0 = time.perf_counter()
    checks, fus = rows(N)
    print(f"generated {len(checks):,} records and {len(fus):,} follow-ups in {time.perf_counter() - t0:.1f}s")
    results: dict[str, Any] = {"bench": "digest", "records": len(checks)}

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digest.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_async(url)
        t0 = time.perf_counter()
        await load_sqlite(path, checks, fus)
        print(f"sqlite: loaded in {time.perf_counter() - t0:.1f}s")
        r = await measure(url)
        print(
            f"sqlite: digest {r['digest_s'] * 1000:.0f} ms (count-only baseline {r['count_only_s'] * 1000:.1f} ms, "
            f"ratio {r['digest_s'] / r['count_only_s']:.0f}x); {r['checks_in_week']} checks in the week; "
            f"target < 3 s -> {'met' if r['digest_s'] < 3 else 'MISSED'}"
        )
        results |= {f"sqlite_{k}": round(v, 4) for k, v in r.items()}

    name = f"sharecheck_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except OSError as exc:
        print(f"postgres: not reachable ({exc}); skipped")
    else:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        base = PG_ADMIN.rsplit("/", 1)[0]
        try:
            await upgrade_async(f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}")
            t0 = time.perf_counter()
            await load_postgres(f"{base}/{name}", checks, fus)
            print(f"postgres: loaded in {time.perf_counter() - t0:.1f}s")
            r = await measure(f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}")
            print(
                f"postgres: digest {r['digest_s'] * 1000:.0f} ms (count-only baseline "
                f"{r['count_only_s'] * 1000:.1f} ms, ratio {r['digest_s'] / r['count_only_s']:.0f}x); "
                f"target < 1 s -> {'met' if r['digest_s'] < 1 else 'MISSED'}"
            )
            results |= {f"postgres_{k}": round(v, 4) for k, v in r.items()}
        finally:
            admin = await asyncpg.connect(PG_ADMIN, timeout=5)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
