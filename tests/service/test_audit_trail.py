"""The tamper-evident audit trail: record chains, workspace chains, and `audit verify` naming what was changed."""

from __future__ import annotations

import asyncio
import itertools
import uuid

from sqlalchemy import select, text

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import AuditSeal, Check, CheckEvent
from bot.runtime import Runtime
from bot.services.audit import AuditReport, seal_pending, verify
from bot.services.records import append_event
from tests.support.service_checks import ALICE, complete

CAROL = Actor("teams", "tenant-2", "29:carol")


async def _events(runtime: Runtime, check_id: uuid.UUID) -> list[CheckEvent]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
        )


async def _sql(runtime: Runtime, statement: str, **params: object) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(text(statement), params)


def _named(report: AuditReport) -> set[tuple[str, str | None, int | None, str | None]]:
    return {(f.problem, f.check_id, f.seq, f.kind) for f in report.findings}


async def _two_records(runtime: Runtime, clock: ManualClock) -> tuple[uuid.UUID, uuid.UUID]:
    first = await complete(runtime, ALICE)
    second = await complete(runtime, CAROL)
    await seal_pending(runtime.sessions, clock.now())
    return first, second


async def test_an_intact_trail_verifies_before_and_after_sealing(runtime: Runtime, clock: ManualClock) -> None:
    check_id = await complete(runtime, ALICE)
    before = await verify(runtime.sessions)
    assert before.intact, before.findings
    assert before.sealed == 0 and before.events == len(await _events(runtime, check_id))
    sealed = await seal_pending(runtime.sessions, clock.now())
    assert sealed == before.events
    await complete(runtime, CAROL)
    assert await seal_pending(runtime.sessions, clock.now()) > 0
    assert await seal_pending(runtime.sessions, clock.now()) == 0  # nothing sealed twice
    after = await verify(runtime.sessions)
    assert after.intact, after.findings
    assert {(p, w) for p, w, _, _ in after.heads} == {("slack", "T0001"), ("teams", "tenant-2")}
    assert (await verify(runtime.sessions, platform="teams")).records == 1
    events = await _events(runtime, check_id)
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    async with runtime.sessions() as session:
        check = await session.get(Check, check_id)
        assert check is not None and check.events_hash == events[-1].hash and check.sealed_seq == len(events)


async def test_an_edited_event_is_named(runtime: Runtime, clock: ManualClock) -> None:
    check_id, _ = await _two_records(runtime, clock)
    target = (await _events(runtime, check_id))[4]
    if runtime.settings.is_sqlite:
        await _sql(
            runtime, "UPDATE check_events SET data = json_set(data, '$.step', 'forged') WHERE id = :id", id=target.id
        )
    else:
        await _sql(
            runtime,
            "UPDATE check_events SET data = jsonb_set(data, '{step}', '\"forged\"') WHERE id = :id",
            id=target.id,
        )
    report = await verify(runtime.sessions)
    assert _named(report) == {("edited", str(check_id), 4, target.kind)}
    line = report.findings[0].line()
    assert str(check_id) in line and "seq 4" in line and "forged" not in line


async def test_an_edit_with_rehashed_chain_is_caught_by_the_seal(runtime: Runtime, clock: ManualClock) -> None:
    check_id, _ = await _two_records(runtime, clock)
    target = (await _events(runtime, check_id))[2]
    # a careful forger recomputes the event's hash too: the record chain then breaks at the next event,
    # and the seal still holds the original hash
    await _sql(
        runtime,
        "UPDATE check_events SET actor = 'slack:T0001:U0MALLORY', hash = :h WHERE id = :id",
        h="f" * 64,
        id=target.id,
    )
    problems = _named(await verify(runtime.sessions))
    assert ("edited", str(check_id), 2, target.kind) in problems


async def test_a_deleted_middle_event_is_named(runtime: Runtime, clock: ManualClock) -> None:
    check_id, _ = await _two_records(runtime, clock)
    target = (await _events(runtime, check_id))[5]
    await _sql(runtime, "DELETE FROM check_events WHERE id = :id", id=target.id)
    assert _named(await verify(runtime.sessions)) == {("deleted", str(check_id), 5, target.kind)}


async def test_a_deleted_unsealed_event_is_named_without_its_kind(runtime: Runtime) -> None:
    check_id = await complete(runtime, ALICE)
    target = (await _events(runtime, check_id))[3]
    await _sql(runtime, "DELETE FROM check_events WHERE id = :id", id=target.id)
    report = await verify(runtime.sessions)
    assert _named(report) == {("deleted", str(check_id), 3, None)}
    assert "not yet sealed" in report.findings[0].line()


async def test_a_deleted_last_event_is_named(runtime: Runtime, clock: ManualClock) -> None:
    check_id, _ = await _two_records(runtime, clock)
    events = await _events(runtime, check_id)
    last = events[-1]
    await _sql(runtime, "DELETE FROM check_events WHERE id = :id", id=last.id)
    assert _named(await verify(runtime.sessions)) == {("deleted", str(check_id), last.seq, last.kind)}
    # covering the tracks on the record row too still leaves the seal naming the missing event
    async with runtime.sessions.begin() as session:
        await session.execute(
            Check.__table__.update()
            .where(Check.id == check_id)
            .values(events_seq=last.seq, events_hash=events[-2].hash)
        )
    assert _named(await verify(runtime.sessions)) == {("truncated", str(check_id), last.seq, last.kind)}


async def test_a_record_whose_events_are_all_deleted_is_named_event_by_event(
    runtime: Runtime, clock: ManualClock
) -> None:
    check_id, _ = await _two_records(runtime, clock)
    events = await _events(runtime, check_id)
    async with runtime.sessions.begin() as session:
        await session.execute(CheckEvent.__table__.delete().where(CheckEvent.check_id == check_id))
    assert _named(await verify(runtime.sessions)) == {("deleted", str(check_id), e.seq, e.kind) for e in events}


async def test_swapped_events_are_named_as_reordered(runtime: Runtime, clock: ManualClock) -> None:
    check_id, _ = await _two_records(runtime, clock)
    events = await _events(runtime, check_id)
    a, b = events[3], events[6]
    await _sql(runtime, "UPDATE check_events SET seq = -1 WHERE id = :id", id=a.id)
    await _sql(runtime, "UPDATE check_events SET seq = 3 WHERE id = :id", id=b.id)
    await _sql(runtime, "UPDATE check_events SET seq = 6 WHERE id = :id", id=a.id)
    report = await verify(runtime.sessions)
    assert _named(report) == {("reordered", str(check_id), 3, a.kind), ("reordered", str(check_id), 6, b.kind)}
    assert not report.intact


async def test_concurrent_appends_keep_every_chain_valid(runtime: Runtime, clock: ManualClock) -> None:
    first = await complete(runtime, ALICE)
    second = await complete(runtime, CAROL)

    async def add(check_id: uuid.UUID, n: int) -> None:
        async with runtime.sessions.begin() as session:
            await append_event(
                session, check_id, "note_added", "sharecheck:test", clock.now(), {"n": n, "note": f"x{n}"}
            )

    async def seal() -> int:
        return await seal_pending(runtime.sessions, clock.now())

    await asyncio.gather(*(add(first, n) for n in range(12)), *(add(second, n) for n in range(12)), seal(), seal())
    await asyncio.gather(seal(), seal())
    report = await verify(runtime.sessions)
    assert report.intact, report.findings
    assert report.sealed == report.events
    assert sorted(e.seq for e in await _events(runtime, first))[-1] == len(await _events(runtime, first)) - 1
    async with runtime.sessions() as session:
        seals = list(await session.scalars(select(AuditSeal).where(AuditSeal.platform == "slack")))
    assert sorted(s.workspace_seq for s in seals) == list(range(len(seals)))
