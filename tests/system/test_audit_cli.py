"""`sharecheck audit verify|seal` and `sharecheck purge` from the command line; the 0004 migration's backfill."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bot.clock import ManualClock
from bot.db.engine import create_engine
from bot.db.migrate import upgrade
from bot.db.models import JsonType, UTCDateTime
from bot.runtime import Runtime
from bot.services.audit import seal_pending, verify
from tests.support.cli import SHARE_SCRIPT, SHARE_WHAT, run
from tests.support.settings import T0, make_settings

REASON = SHARE_WHAT


def test_audit_verify_seal_and_purge_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    assert run(["chat", "--user", "practitioner-7"], env, "\n".join(SHARE_SCRIPT) + "\n").returncode == 0
    intact = run(["audit", "verify"], env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit trail intact: 1 record(s)" in intact.stdout and "0 sealed" in intact.stdout
    sealed = run(["audit", "seal"], env)
    assert sealed.returncode == 0 and "sealed" in sealed.stdout
    assert "chain console local:" in run(["audit", "verify", "--platform", "console"], env).stdout

    kept = run(["purge", "--dry-run"], env)
    assert kept.returncode == 0, kept.stderr
    assert "0 record(s) finished before" in kept.stdout and "nothing to remove" in kept.stdout
    dry = run(["purge", "--dry-run"], env | {"SHARECHECK_RETENTION": "0"})
    assert "1 record(s)" in dry.stdout and "would remove 1 x answers.what" in dry.stdout
    assert "nothing was changed" in dry.stdout and REASON not in dry.stdout
    applied = run(["purge", "--apply"], env | {"SHARECHECK_RETENTION": "0"})
    assert "removed 1 x snapshot.reasons" in applied.stdout and REASON not in applied.stdout
    exported = run(["export", "--since", "2000-01-01", "--format", "json"], env).stdout
    assert REASON not in exported and "[removed after the retention period]" in exported
    assert '"$redacted"' not in exported
    assert run(["audit", "verify"], env).returncode == 0

    db = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    with db:
        (check_id,) = db.execute("SELECT check_id FROM check_events WHERE seq = 4").fetchone()
        db.execute("UPDATE check_events SET actor = 'console:local:someone-else' WHERE seq = 4")
        db.execute("DELETE FROM check_events WHERE seq = 6")
    db.close()
    broken = run(["audit", "verify"], env)
    assert broken.returncode == 1
    record = str(uuid.UUID(check_id))
    assert f"edited: record {record} seq 4 (answered)" in broken.stdout
    assert f"deleted: record {record} seq 6 (answered)" in broken.stdout
    assert "someone-else" not in broken.stdout and "NOT intact: 2 problem(s)" in broken.stdout


async def test_migration_chains_events_recorded_before_it(db_url: str, clock: ManualClock) -> None:
    await upgrade_async_to(db_url, "0003")
    engine = create_engine(db_url)
    checks = sa.table(
        "checks",
        *(
            sa.column(n, sa.String())
            for n in ("platform", "workspace_id", "user_id", "status", "pack_id", "pack_version")
        ),
        sa.column("id", sa.Uuid()),
        sa.column("state", JsonType),
        sa.column("revision", sa.Integer()),
        sa.column("events_seq", sa.Integer()),
        sa.column("started_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    events = sa.table(
        "check_events",
        sa.column("check_id", sa.Uuid()),
        sa.column("seq", sa.Integer()),
        sa.column("at", UTCDateTime()),
        sa.column("kind", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("data", JsonType),
    )
    check_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            checks.insert().values(
                id=check_id,
                platform="slack",
                workspace_id="T1",
                user_id="U1",
                status="active",
                pack_id="p",
                pack_version="1",
                state={},
                revision=2,
                events_seq=3,
                started_at=T0,
                updated_at=T0,
            )
        )
        for seq, (kind, data) in enumerate(
            [
                ("started", {"pack": "p"}),
                ("answered", {"step": "reasons", "text": "typed before 0004"}),
                ("answered", {"step": "x", "choices": ["yes"]}),
            ]
        ):
            await conn.execute(
                events.insert().values(
                    check_id=check_id,
                    seq=seq,
                    at=T0 + timedelta(seconds=seq),
                    kind=kind,
                    actor="slack:T1:U1",
                    data=data,
                )
            )
    await engine.dispose()
    runtime = await Runtime.create(make_settings(db_url), clock=clock, migrate=True)
    try:
        report = await verify(runtime.sessions)
        assert report.intact and report.events == 3, report.findings
        assert await seal_pending(runtime.sessions, clock.now()) == 3
        assert (await verify(runtime.sessions)).intact
    finally:
        await runtime.close()


async def upgrade_async_to(url: str, revision: str) -> None:
    await asyncio.to_thread(upgrade, url, revision)


def test_scheduler_logs_json_lines_and_retention_defaults_to_six_years(env: dict[str, str]) -> None:
    from bot.settings import Settings

    assert Settings(_env_file=None).sharecheck_retention == timedelta(days=6 * 365)  # type: ignore[call-arg]
    assert Settings(_env_file=None, sharecheck_retention="P1Y").sharecheck_retention == timedelta(days=365)  # type: ignore[call-arg]
    result = run(["scheduler", "--once"], env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    passed = [line for line in lines if str(line["message"]).startswith("scheduler pass:")]
    assert (
        passed and passed[0]["level"] == "INFO" and passed[0]["logger"] == "sharecheck.server" and "time" in passed[0]
    )
