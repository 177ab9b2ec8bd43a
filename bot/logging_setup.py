"""Logs: one JSON object per line for a log collector, or one readable line per record for a person at a terminal,
with the request id of the request being handled.

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
    # the Agents SDK logs its connection settings as a multi-line dump at start, and a line per connector call
    "microsoft_agents": logging.WARNING,
}

LOG_FORMATS = ("auto", "json", "text")
"""SHARECHECK_LOG_FORMAT: ``auto`` is text on a terminal and JSON lines otherwise."""


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


class TextFormatter(logging.Formatter):
    """One line a record for a person: local time, level, logger, message, then the request's fields. The same
    rules as the JSON lines: an exception is its type and stack frames, never its message."""

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).astimezone().strftime("%H:%M:%S")
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = {"request_id": getattr(record, "request_id", None) or REQUEST_ID.get()}
        fields |= {name: getattr(record, name, None) for name in EXTRA_FIELDS}
        shown = " ".join(f"{name}={value}" for name, value in fields.items() if value is not None)
        if shown:
            line += f"  [{shown}]"
        if record.exc_info and record.exc_info[0] is not None:
            error = describe_exception(record.exc_info[0], record.exc_info[2])
            line += "\n  " + error["error"] + "".join(f"\n    at {frame}" for frame in error["stack"])
        return line


def wants_json(log_format: str, stream: IO[str]) -> bool:
    """``auto``: JSON lines unless a person is watching the stream (a terminal)."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}")
    if log_format != "auto":
        return log_format == "json"
    isatty = getattr(stream, "isatty", None)
    return not (callable(isatty) and isatty())


def describe_exception(kind: type[BaseException], tb: TracebackType | None) -> dict[str, Any]:
    """The exception's type and where it was raised, without its message (which may repeat input)."""
    frames = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(tb)]
    return {"error": f"{kind.__module__}.{kind.__qualname__}", "stack": frames}


def configure_logging(level: str | int = logging.INFO, log_format: str = "json", stream: IO[str] | None = None) -> None:
    """Route every logger through one handler: JSON lines (``json``), readable lines (``text``), or whichever
    suits the stream (``auto``: text on a terminal)."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if wants_json(log_format, out) else TextFormatter())
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
