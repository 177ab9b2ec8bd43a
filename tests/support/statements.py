"""Watching the SQL a runtime sends, on every engine it has (the async engine and, on SQLite, the writer's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.runtime import Runtime


def engines(runtime: Runtime) -> list[Engine]:
    writer = runtime.transactions.writer
    return [runtime.engine.sync_engine, *([writer] if writer is not None else [])]


def failed_statements(runtime: Runtime) -> list[str]:
    """A list that collects the error type of every statement the database refuses from now on."""
    failed: list[str] = []

    def refused(context: Any) -> None:
        failed.append(type(context.original_exception).__name__)

    for engine in engines(runtime):
        event.listen(engine, "handle_error", refused)
    return failed
