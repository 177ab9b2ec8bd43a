"""Short write transactions that run start to finish as one piece of synchronous code.

SQLite has one write lock per database, held from a transaction's first write to its commit. Through
aiosqlite every statement is a trip to the connection's thread and back through the event loop, so under
load a check step's lock stayed held across several event-loop turns while every other writer slept in
SQLite's busy handler: in the Teams step benchmark one SQLite call in six waited, and the server idled a
third of the time with 32 requests in flight. Here the whole transaction runs on one writer thread, one trip
from the event loop, so the lock is held only while its statements run, and this process's short
transactions queue on that thread instead of sleeping in SQLite. Other databases (PostgreSQL) lock rows, not
the database: the same function runs there through ``run_sync`` on the async engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_sync_sqlite_engine, sqlite_file

T = TypeVar("T")
Work = Callable[[Connection], T]
"""A transaction's statements: no awaits, no network calls, nothing slow; commit on return, rollback on raise."""


class ShortTransactions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        file = sqlite_file(engine)
        self._writer: Engine | None = None if file is None else create_sync_sqlite_engine(file)
        self._thread: ThreadPoolExecutor | None = None

    @property
    def writer(self) -> Engine | None:
        """The engine of the SQLite writer thread; None where transactions run through the async engine."""
        return self._writer

    async def run(self, work: Work[T]) -> T:
        if self._writer is None:
            async with self._engine.begin() as connection:
                return await connection.run_sync(work)
        if self._thread is None:
            # one thread: its transactions never wait on each other's write lock, and they keep their order
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, work)

    def _transaction(self, work: Work[T]) -> T:
        assert self._writer is not None
        with self._writer.begin() as connection:
            return work(connection)

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if self._writer is not None and thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._writer.dispose)
        if thread is not None:
            thread.shutdown(wait=False)
