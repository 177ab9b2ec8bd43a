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
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from bisect import bisect
from collections.abc import Awaitable
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


_DECISIONS = ("share", "not_share", "seek_advice")
_DECISION_CUM = (70, 90, 100)
_FU_STATES = ("confirmed", "awaiting", "escalated", "clarification")
_FU_CUM = (80, 90, 97, 100)
_REASONS = json.dumps("Unexplained bruising reported by school; the health visitor needs the summary.")
_METHOD = json.dumps("NHSmail or a DCB1596-accredited secure email")


def _weighted(draw: float, population: tuple[str, ...], cum: tuple[int, ...]) -> str:
    """``random.choices(population, weights)[0]`` for the ``draw`` it takes (same formula, same answer)."""
    return population[bisect(cum, draw * (cum[-1] + 0.0), 0, len(cum) - 1)]


def _snapshot(decision: str, ref: str, risk: bool, unsure: str) -> str:
    """``json.dumps`` of the snapshot dict a completed check stores, written out: the same text, built
    with one f-string instead of the encoder walking a fresh dict a million times."""
    return (
        f'{{"pack_id": "children-england-2024", "pack_version": "1.1.0", "decision": "{decision}", '
        f'"case_reference": "{ref}", "reasons": {_REASONS}, "immediate_risk": {"true" if risk else "false"}, '
        f'"recipient": null, "fields": {{"decision": "{decision}", "method": {_METHOD}}}, "answers": [], '
        f'"unsure_steps": [], "unsure_rules": {unsure}, "myths_shown": []}}'
    )


# uuid4's layout (version 4, RFC 4122 variant) over 128 random bits, as hex: what SQLAlchemy's Uuid stores
# on SQLite and what asyncpg's COPY takes for a uuid column, at a fraction of uuid.uuid4()'s cost
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def rows(n: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The records: the same values, drawn in the same order from the same seed, as ever (only the ids
    are random); written for speed, as generating them was a minute of the bench's run."""
    rng = random.Random(42)
    draw, pick, sample = rng.random, rng.choice, rng.sample
    bits = random.Random().getrandbits  # the ids: unseeded, like uuid4, and apart from the data's stream

    def uuid4() -> str:
        return f"{(bits(128) & _UUID_CLEAR) | _UUID_SET:032x}"

    unsure_json: dict[tuple[str, ...], str] = {}
    checks, follow_ups = [], []
    for i in range(n):
        finished = NOW - SPAN * draw()
        decision = _weighted(draw(), _DECISIONS, _DECISION_CUM)
        unsure = tuple(sample(RULES, pick([0, 0, 0, 1, 2])))
        risk = draw() < 0.03
        unsure_text = unsure_json.get(unsure)
        if unsure_text is None:
            unsure_text = unsure_json[unsure] = json.dumps(list(unsure))
        ref = f"CS-{i:07d}"
        cid = uuid4()
        ws = f"T{i % WORKSPACES:03d}"
        user = f"U{i % 5000:05d}"
        checks.append(
            (
                cid,
                "slack",
                ws,
                user,
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
                ref,
                decision,
                _snapshot(decision, ref, risk, unsure_text),
            )
        )
        if draw() < 0.1 and decision == "share":
            state = _weighted(draw(), _FU_STATES, _FU_CUM)
            answered = finished + timedelta(hours=5) if state in ("confirmed", "clarification") else None
            escalate = finished + timedelta(hours=72)
            follow_ups.append(
                (
                    uuid4(),
                    cid,
                    "slack",
                    ws,
                    "recipient_confirm",
                    user,
                    "UR",
                    ref,
                    "{}",
                    state,
                    None,
                    escalate,
                    0,
                    escalate if state == "escalated" else None,
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


def _sqlite_time(v: datetime | None) -> str | None:
    """A timestamp as the rows always stored it on SQLite: naive UTC, ISO form."""
    if v is None:
        return None
    if v.tzinfo is not UTC:  # every generated time is already UTC: skip the conversion for them
        v = v.astimezone(UTC)
    return v.replace(tzinfo=None).isoformat(sep=" ")


_FU_TIMES = frozenset(i for i, c in enumerate(FU_COLS.split(",")) if c.strip().endswith("_at"))


def load_sqlite(path: Path, checks: list[tuple[Any, ...]], fus: list[tuple[Any, ...]]) -> None:
    """Insert the rows in one transaction, with settings for the load only.

    The checks table's primary key is a random uuid, so a million inserts land all over its index:
    with SQLite's default 2 MB page cache that was most of three minutes of paging. The load gets a
    1 GB cache, no rollback journal and no syncs; the journal mode is put back after, and the digest is
    measured through the application's own connections and settings, so what is measured is unchanged.
    """

    def check_row(r: tuple[Any, ...]) -> tuple[Any, ...]:
        finished = _sqlite_time(r[12])
        return (*r[:11], _sqlite_time(r[11]), finished, finished if r[13] is r[12] else _sqlite_time(r[13]), *r[14:])

    def fu_row(r: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(_sqlite_time(v) if i in _FU_TIMES else v for i, v in enumerate(r))

    con = sqlite3.connect(path, isolation_level=None)
    try:
        journal = con.execute("PRAGMA journal_mode").fetchone()[0]
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1048576", "temp_store=MEMORY"):
            con.execute(f"PRAGMA {pragma}")
        con.execute("BEGIN")
        marks = ",".join("?" * 17)
        con.executemany(f"INSERT INTO checks ({CHECK_COLS}) VALUES ({marks})", map(check_row, checks))
        marks = ",".join("?" * 18)
        con.executemany(f"INSERT INTO follow_ups ({FU_COLS}) VALUES ({marks})", map(fu_row, fus))
        con.execute("COMMIT")
        con.execute("ANALYZE")
        con.execute(f"PRAGMA journal_mode={journal}")
    finally:
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


def _report(db: str, r: dict[str, float], limit: float) -> None:
    print(
        f"{db}: digest {r['digest_s'] * 1000:.0f} ms (count-only baseline {r['count_only_s'] * 1000:.1f} ms, "
        f"ratio {r['digest_s'] / r['count_only_s']:.0f}x); {r['checks_in_week']} checks in the week; "
        f"target < {limit:.0f} s -> {'met' if r['digest_s'] < limit else 'MISSED'}"
    )


async def _timed(label: str, load: Awaitable[None]) -> None:
    started = time.perf_counter()
    await load
    print(f"{label}: loaded in {time.perf_counter() - started:.1f}s", flush=True)


async def postgres_database() -> str | None:
    """A new, migrated database's asyncpg DSN, or None when PostgreSQL is not reachable."""
    from bot.db.migrate import upgrade_async

    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except OSError as exc:
        print(f"postgres: not reachable ({exc}); skipped")
        return None
    name = f"sharecheck_bench_{uuid.uuid4().hex[:8]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    await upgrade_async(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    return dsn


async def drop_postgres(dsn: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{dsn.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


async def main() -> None:
    from bot.db.migrate import upgrade_async

    t0 = time.perf_counter()
    checks, fus = rows(N)
    print(f"generated {len(checks):,} records and {len(fus):,} follow-ups in {time.perf_counter() - t0:.1f}s")
    results: dict[str, Any] = {"bench": "digest", "records": len(checks)}

    pg = await postgres_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "digest.db"
            url = f"sqlite+aiosqlite:///{path}"
            await upgrade_async(url)
            # Both databases are loaded at once: the SQLite load is this process's CPU (in a thread, as
            # sqlite3 releases the GIL while it writes) and the COPY mostly the PostgreSQL server's, so on
            # two cores they overlap. Nothing is measured until both are loaded.
            t0 = time.perf_counter()
            loads = [_timed("sqlite", asyncio.to_thread(load_sqlite, path, checks, fus))]
            if pg is not None:
                loads.append(_timed("postgres", load_postgres(pg, checks, fus)))
            await asyncio.gather(*loads)
            print(f"loaded in {time.perf_counter() - t0:.1f}s in all")
            del checks, fus
            r = await measure(url)
            _report("sqlite", r, 3)
            results |= {f"sqlite_{k}": round(v, 4) for k, v in r.items()}
        if pg is not None:
            r = await measure(pg.replace("postgresql://", "postgresql+asyncpg://", 1))
            _report("postgres", r, 1)
            results |= {f"postgres_{k}": round(v, 4) for k, v in r.items()}
    finally:
        if pg is not None:
            await drop_postgres(pg)
    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
