"""The record trail's batched append: the same chain as one event at a time, in a few statements per batch."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from bot.services.audit import seal_pending, verify
from bot.services.audit_hash import GENESIS, event_hash
from bot.services.records import AppendedEvent, NewEvent, append_event, append_events, trail
from tests.support.settings import make_settings


async def new_checks(runtime: Runtime, n: int, workspace: str = "T1") -> list[uuid.UUID]:
    """n finished records with an empty trail, straight into the table (the dialog is not what is tested here)."""
    now = runtime.clock.now()
    ids = [uuid.uuid4() for _ in range(n)]
    async with runtime.sessions.begin() as session:
        await session.execute(
            insert(Check),
            [
                {
                    "id": check_id,
                    "platform": "slack",
                    "workspace_id": workspace,
                    "user_id": f"U{k}",
                    "channel_id": "C1",
                    "status": "completed",
                    "pack_id": "children-england-2024",
                    "pack_version": "1",
                    "state": {},
                    "revision": 1,
                    "events_seq": 0,
                    "started_at": now,
                    "updated_at": now,
                    "finished_at": now,
                    "decision": "share",
                }
                for k, check_id in enumerate(ids)
            ],
        )
    return ids


def stored(events: Sequence[CheckEvent | AppendedEvent]) -> list[tuple[Any, ...]]:
    return [(e.check_id, e.seq, e.kind, e.actor, e.data, e.prev_hash, e.hash) for e in events]


async def test_a_batch_stores_exactly_what_one_event_at_a_time_would(runtime: Runtime, clock: ManualClock) -> None:
    a, b, c = await new_checks(runtime, 3)
    async with runtime.sessions.begin() as session:
        await append_event(session, a, "started", "slack:T1:U0", clock.now(), {"n": 0})  # a chain to continue
    clock.advance(timedelta(minutes=1))
    # interleaved checks, several events for one of them; no free text, so no random salt and equal hashes
    batch = [
        NewEvent(a, "follow_up_asked", "sharecheck:scheduler", clock.now(), {"follow_up": "1", "to": "UR1"}),
        NewEvent(b, "follow_up_asked", "sharecheck:scheduler", clock.now(), {"follow_up": "2", "to": "UR2"}),
        NewEvent(a, "follow_up_nudged", "sharecheck:scheduler", clock.now(), {"follow_up": "1", "to": "UR1"}),
        NewEvent(c, "follow_up_asked", "sharecheck:scheduler", clock.now(), {"k": [1, 2], "t": (3, 4)}),
        NewEvent(a, "follow_up_escalated", "sharecheck:scheduler", clock.now(), None),
    ]

    async with runtime.sessions() as session:
        batched = await append_events(session, batch)
        heads = {row.id: (row.events_seq, row.events_hash) for row in await session.scalars(select(Check))}
        await session.rollback()  # the same appends again, one at a time, from the same starting point
    async with runtime.sessions.begin() as session:
        ids = [await append_event(session, e.check_id, e.kind, e.actor, e.at, e.data) for e in batch]
    async with runtime.sessions() as session:
        assert heads == {row.id: (row.events_seq, row.events_hash) for row in await session.scalars(select(Check))}
        kept = [
            e for e in await session.scalars(select(CheckEvent).order_by(CheckEvent.id)) if e.seq > 0 or e.check_id != a
        ]
        by_id = {e.id: e for e in kept}
        one_by_one = [by_id[i] for i in ids]  # append_event returns each event's id

    assert stored(batched) == stored(one_by_one) == stored(kept)
    assert [e.seq for e in batched] == [1, 0, 2, 0, 3]
    assert batched[0].prev_hash != GENESIS and batched[1].prev_hash == GENESIS
    assert batched[2].prev_hash == batched[0].hash and batched[4].prev_hash == batched[2].hash
    assert all(isinstance(e.id, int) for e in batched)
    report = await verify(runtime.sessions)
    assert report.intact, report.findings


async def test_a_batch_with_free_text_verifies_and_seals(runtime: Runtime, clock: ManualClock) -> None:
    a, b = await new_checks(runtime, 2)
    batch = [
        NewEvent(a, "note_added", "slack:T1:U0", clock.now(), {"note": "called the school", "n": 1}),
        NewEvent(b, "answered", "slack:T1:U1", clock.now(), {"answer": {"text": "typed", "choices": ["x"]}}),
        NewEvent(a, "note_added", "slack:T1:U0", clock.now(), {"note": "second"}),
    ]
    async with runtime.sessions.begin() as session:
        events = await append_events(session, batch)
    assert events[0].salt and events[1].salt and events[0].salt != events[2].salt
    for e in events:
        assert e.hash == event_hash(e.check_id, e.seq, e.at, e.kind, e.actor, e.data, e.salt, e.prev_hash)
    async with runtime.sessions() as session:
        assert [e.hash for e in await trail(session, a)] == [events[0].hash, events[2].hash]
    assert await seal_pending(runtime.sessions, clock.now()) == 3
    report = await verify(runtime.sessions)
    assert report.intact, report.findings
    assert report.events == report.sealed == 3


async def test_an_empty_batch_does_nothing_and_a_missing_check_fails_the_whole_batch(
    runtime: Runtime, clock: ManualClock
) -> None:
    [a] = await new_checks(runtime, 1)
    async with runtime.sessions.begin() as session:
        assert await append_events(session, []) == []
    with pytest.raises(LookupError):
        async with runtime.sessions.begin() as session:
            await append_events(
                session,
                [NewEvent(a, "x", "t", clock.now()), NewEvent(uuid.uuid4(), "x", "t", clock.now())],
            )
    async with runtime.sessions() as session:
        assert await trail(session, a) == []
        assert (await session.get_one(Check, a)).events_seq == 0


async def test_batches_larger_than_one_statement_chunk(
    runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.services.records.BATCH_CHECKS", 3)
    ids = await new_checks(runtime, 8)
    async with runtime.sessions.begin() as session:
        events = await append_events(
            session, [NewEvent(i, "k", "t", clock.now(), {"r": r}) for r in range(2) for i in ids]
        )
    assert sorted((e.check_id, e.seq) for e in events) == sorted((i, r) for r in range(2) for i in ids)
    report = await verify(runtime.sessions)
    assert report.intact and report.events == 16, report.findings


async def test_a_batch_costs_three_statements_however_many_events(runtime: Runtime, clock: ManualClock) -> None:
    ids = await new_checks(runtime, 120)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split(None, 1)[0])

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with runtime.sessions.begin() as session:
            await append_events(session, [NewEvent(i, "k", "t", clock.now(), {"r": r}) for i in ids for r in range(2)])
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    # numbering (and locking) the checks, inserting the events, keeping each check's last hash
    assert [s for s in statements if s in ("UPDATE", "INSERT")] == ["UPDATE", "INSERT", "UPDATE"]


@pytest.mark.postgres
async def test_concurrent_batches_and_single_appends_to_the_same_checks_chain_correctly_on_postgres(
    postgres_url: str, clock: ManualClock
) -> None:
    # several instances' runtimes, so the transactions really run side by side on separate connections
    runtimes = [await Runtime.create(make_settings(postgres_url), clock=clock, migrate=i == 0) for i in range(3)]
    try:
        ids = await new_checks(runtimes[0], 6)
        rng = random.Random(7)

        async def batch(n: int) -> None:
            # each batch names the checks in its own order, some twice: without the ordered locks two of
            # these would deadlock
            chosen = rng.sample(ids, 4) + rng.sample(ids, 2)
            async with runtimes[n % 3].sessions.begin() as session:
                await append_events(session, [NewEvent(c, "batched", "t", clock.now(), {"n": n}) for c in chosen])
                await asyncio.sleep(0.01)  # hold the locks a little, so the others queue behind them

        async def single(n: int) -> None:
            async with runtimes[n % 3].sessions.begin() as session:
                await append_event(session, ids[n % len(ids)], "single", "t", clock.now(), {"n": n})

        async def seal() -> int:
            return await seal_pending(runtimes[0].sessions, clock.now())

        await asyncio.gather(*(batch(n) for n in range(24)), *(single(n) for n in range(24)), seal(), seal())
        await seal()

        report = await verify(runtimes[0].sessions)
        assert report.intact, report.findings
        assert report.events == 24 * 6 + 24 == report.sealed
        async with runtimes[0].sessions() as session:
            for check_id in ids:
                events = await trail(session, check_id)
                row = await session.get_one(Check, check_id)
                assert [e.seq for e in events] == list(range(row.events_seq))
                assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(events))
                assert row.events_hash == events[-1].hash
    finally:
        for rt in runtimes:
            await rt.close()
