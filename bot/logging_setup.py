"""Structured logs: one JSON object per line, with the request id of the request being handled.

No personal data in logs, ever. Messages name ids, kinds and counts, never typed text; exceptions are logged as
their type and stack frames without their message, because messages can carry input (a pydantic error repeats
the value it refused; a database error its parameters); and SQLAlchemy never logs statement parameters
(bot.db.engine sets hide_parameters, and its loggers stay at WARNING here).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

REQUEST_ID: ContextVar[str | None] = ContextVar("sharecheck_request_id", default=None)
"""The id of the HTTP request being handled (bot.web sets it), so every log line of a request can be found."""

EXTRA_FIELDS = ("method", "route", "status", "duration_ms")
"""Attributes of a record (``extra=``) copied into the JSON line: the request log's fields, nothing free-form."""

QUIET_LOGGERS = {
    "sqlalchemy": logging.WARNING,  # at INFO it would log every statement
    "alembic": logging.WARNING,
    "aiohttp.access": logging.WARNING,  # its lines carry client addresses and raw paths; bot.web logs requests
    "aiosqlite": logging.WARNING,  # at DEBUG it logs each call with its arguments: statement parameters
}


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record, whichever handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        for name in EXTRA_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line |= describe_exception(record.exc_info[0], record.exc_info[2])
        return json.dumps(line, ensure_ascii=False, default=str)


def describe_exception(kind: type[BaseException], tb: TracebackType | None) -> dict[str, Any]:
    """The exception's type and where it was raised, without its message (which may repeat input)."""
    frames = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)]
    return {"error": f"{kind.__module__}.{kind.__qualname__}", "stack": frames}


def configure_logging(level: str | int = logging.INFO, json_lines: bool = True, stream: IO[str] | None = None) -> None:
    """Route every logger through one handler: JSON lines for serve and scheduler, plain text for the terminal."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_noisy_loggers()


def quiet_noisy_loggers() -> None:
    """Libraries that would log statements or their parameters stay at WARNING whatever the root level."""
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)
