"""Creating the async engine and sessions for SQLite (default) or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

BUSY_TIMEOUT_S = 30
"""How long a SQLite connection waits for another's write lock before it gives up."""


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # statement parameters are answers people typed: keep them out of SQLAlchemy's logs and error messages
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not parsed.query.get("uri"):
            owner_only_sqlite_file(Path(database))
        # No rollback when a connection goes back to the pool: every session here ends its transaction (commit,
        # or rollback on close), and with aiosqlite each call is a trip to the connection's thread, so the pool's
        # extra rollback was one of every eight trips a check's step makes.
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def owner_only_sqlite_file(path: Path) -> None:
    """Create the database's folder (0700) and file (0600) for the owner alone, before SQLite opens it.

    The file holds case records: SQLite would create it 0644 (world-readable). Its -wal and -shm files take
    the database file's permissions, so they are owner-only too. An existing folder or file is left as it is
    (an administrator may have set its permissions on purpose).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sqlite_file(engine: AsyncEngine) -> URL | None:
    """The URL of the SQLite file ``engine`` works on, for the plain (pysqlite) driver; None for any other
    database, and for an in-memory one (a second connection to ':memory:' would be a different database)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.set(drivername="sqlite+pysqlite")


def create_sync_sqlite_engine(url: URL) -> Engine:
    """A synchronous engine on a SQLite file, set up like the async one (``create_engine``)."""
    engine = sqlalchemy.create_engine(
        url,
        hide_parameters=True,
        # its connections are made and used on one writer thread, but the pool may close them from another
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def insert_with_conflicts(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` that can say ON CONFLICT, for the database named ``dialect``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
