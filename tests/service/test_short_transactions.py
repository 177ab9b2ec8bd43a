"""Short write transactions (bot.db.transactions): on a SQLite file the whole transaction runs on one writer
thread; elsewhere through the async engine. Either way it commits on return, rolls back on raise, and the check
steps that use it stay exact under concurrency."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.checks.models import Actor, Outcome
from bot.clock import ManualClock
from bot.db.engine import create_engine
from bot.db.transactions import ShortTransactions
from bot.runtime import Runtime
from bot.services.audit import verify
from dialogs.messages import Prompt
from tests.support.conversation import answer_to

CREATE = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"


class Boom(RuntimeError):
    pass


async def _rows(transactions: ShortTransactions) -> list[tuple[int, str]]:
    return await transactions.run(
        lambda c: [tuple(r) for r in c.execute(text("SELECT id, body FROM notes ORDER BY id"))]
    )


async def _commits_and_rolls_back(transactions: ShortTransactions) -> None:
    await transactions.run(lambda c: c.execute(text(CREATE)))
    await transactions.run(lambda c: c.execute(text("INSERT INTO notes (id, body) VALUES (1, 'kept')")))

    def fails_half_way(connection: Connection) -> None:
        connection.execute(text("INSERT INTO notes (id, body) VALUES (2, 'lost')"))
        raise Boom

    with pytest.raises(Boom):
        await transactions.run(fails_half_way)
    with pytest.raises(IntegrityError):  # the database's own refusals reach the caller as themselves
        await transactions.run(lambda c: c.execute(text("INSERT INTO notes (id, body) VALUES (1, 'again')")))
    assert await _rows(transactions) == [(1, "kept")]


async def test_on_a_sqlite_file_a_transaction_runs_whole_on_the_writer_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'short.db'}")
    transactions = ShortTransactions(engine)
    try:
        assert transactions.writer is not None
        await _commits_and_rolls_back(transactions)

        threads: list[str] = []

        def two_statements(connection: Connection) -> None:
            threads.append(threading.current_thread().name)
            connection.execute(text("INSERT INTO notes (id, body) VALUES (3, 'three')"))
            threads.append(threading.current_thread().name)
            connection.execute(text("UPDATE notes SET body = 'three, edited' WHERE id = 3"))

        await asyncio.gather(*(transactions.run(two_statements) if i == 0 else _rows(transactions) for i in range(5)))
        assert len(set(threads)) == 1 and threads[0].startswith("sqlite-writer")
        assert threads[0] != threading.current_thread().name
        # what the writer thread committed, the async engine (a connection of its own) reads
        async with engine.connect() as connection:
            body = await connection.scalar(text("SELECT body FROM notes WHERE id = 3"))
        assert body == "three, edited"
    finally:
        await transactions.close()
        await engine.dispose()
    assert not any(t.name.startswith("sqlite-writer") for t in threading.enumerate() if t.is_alive())


async def test_in_memory_sqlite_runs_through_the_async_engine() -> None:
    # a second connection to ':memory:' would be another, empty database: no writer thread there
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    transactions = ShortTransactions(engine)
    try:
        assert transactions.writer is None
        assert await transactions.run(lambda c: c.execute(text("SELECT 41 + 1")).scalar_one()) == 42
    finally:
        await transactions.close()
        await engine.dispose()


@pytest.mark.postgres
async def test_on_postgresql_a_transaction_runs_through_the_async_engine(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    transactions = ShortTransactions(engine)
    try:
        assert transactions.writer is None
        await _commits_and_rolls_back(transactions)
    finally:
        await transactions.close()
        await engine.dispose()


async def test_concurrent_starts_and_steps_each_land_once_with_an_intact_trail(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Forty practitioners start and answer at once (the steps go through the short transactions on both
    databases): every check moves exactly one step, each double click is stale, and every trail verifies."""
    actors = [Actor("teams", "T0001", f"29:user-{i}") for i in range(40)]
    started = await asyncio.gather(*(runtime.checks.start(a) for a in actors))
    answers = []
    for reply in started:
        assert reply.outcome is Outcome.STARTED and isinstance(reply.message, Prompt)
        answers.append(answer_to(reply.message, fields={"immediate_danger": "no"}))
    moves = [runtime.checks.answer(a, r.check_id, ans) for a, r, ans in zip(actors, started, answers, strict=True)]
    twice = [runtime.checks.answer(a, r.check_id, ans) for a, r, ans in zip(actors, started, answers, strict=True)]
    outcomes = await asyncio.gather(*moves, *twice)
    assert sum(o.outcome is Outcome.ADVANCED for o in outcomes) == len(actors)
    assert sum(o.outcome is Outcome.STALE for o in outcomes) == len(actors)
    report = await verify(runtime.sessions)
    assert report.intact, report.findings
    async with runtime.sessions() as session:
        revisions = set(await session.scalars(text("SELECT revision FROM checks")))
        events = await session.scalar(text("SELECT count(*) FROM check_events"))
    assert revisions == {1} and events == 2 * len(actors)
