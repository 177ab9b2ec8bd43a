"""Exporting decision records for audit (``sharecheck export``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Check, CheckEvent
from bot.services.audit_hash import REDACTED
from bot.services.retention import REMOVED
from dialogs.record import FIELD_LABELS

# The decision-record columns of DESIGN.md section 5, in that order; answers and the trail follow as JSON.
BASE_COLUMNS = (
    "check_id",
    "case_reference",
    "platform",
    "workspace_id",
    "practitioner",
    "started_at",
    "finished_at",
    "pack_id",
    "pack_version",
    "decision",
    "reasons",
    "immediate_risk",
)
FIELD_COLUMNS = tuple(f for f in FIELD_LABELS if f not in ("case_reference", "decision", "reasons", "immediate_risk"))
TAIL_COLUMNS = ("unsure_steps", "answers", "trail")
COLUMNS = BASE_COLUMNS + FIELD_COLUMNS + TAIL_COLUMNS


@dataclass(frozen=True)
class ExportFilter:
    since: datetime
    until: datetime | None = None
    platform: str | None = None
    workspace_id: str | None = None


ScopeCondition = Callable[[AsyncSession], Awaitable[ColumnElement[bool]]]


async def export_records(
    sessions: async_sessionmaker[AsyncSession], filt: ExportFilter, scope: ScopeCondition | None = None
) -> list[dict[str, Any]]:
    """Completed checks finished in the window, each with its answers and full event trail.

    ``scope`` limits the export to what one lead may see (DigestService.scope), for audits of a team.
    """
    query = select(Check).where(Check.snapshot.is_not(None), Check.finished_at >= filt.since)
    if filt.until is not None:
        query = query.where(Check.finished_at < filt.until)
    if filt.platform is not None:
        query = query.where(Check.platform == filt.platform)
    if filt.workspace_id is not None:
        query = query.where(Check.workspace_id == filt.workspace_id)
    async with sessions() as session:
        if scope is not None:
            query = query.where(await scope(session))
        checks = list(await session.scalars(query.order_by(Check.finished_at, Check.id)))
        events: dict[Any, list[CheckEvent]] = {c.id: [] for c in checks}
        if checks:
            rows = await session.scalars(
                select(CheckEvent).where(CheckEvent.check_id.in_(events)).order_by(CheckEvent.check_id, CheckEvent.seq)
            )
            for event in rows:
                events[event.check_id].append(event)
    return [_record(check, events[check.id]) for check in checks]


def _record(check: Check, events: list[CheckEvent]) -> dict[str, Any]:
    snap = check.snapshot or {}
    fields: dict[str, str] = snap.get("fields", {})
    record: dict[str, Any] = {
        "check_id": str(check.id),
        "case_reference": check.case_reference,
        "platform": check.platform,
        "workspace_id": check.workspace_id,
        "practitioner": check.user_id,
        "started_at": check.started_at.isoformat(),
        "finished_at": check.finished_at.isoformat() if check.finished_at else None,
        "pack_id": check.pack_id,
        "pack_version": check.pack_version,
        "decision": check.decision,
        "reasons": snap.get("reasons"),
        "immediate_risk": snap.get("immediate_risk", False),
    }
    record |= {f: fields.get(f) for f in FIELD_COLUMNS}
    record["unsure_steps"] = list(snap.get("unsure_steps", []))
    record["answers"] = [
        {"step": a["step_id"], "question": a["question"], "answer": a["answer"], "unsure": a["unsure"]}
        for a in snap.get("answers", [])
    ]
    record["trail"] = [
        {
            "seq": e.seq,
            "at": e.at.isoformat(),
            "event": e.kind,
            "by": e.actor,
            **({"data": _shown(e.data)} if e.data else {}),
        }
        for e in events
    ]
    return record


def _shown(value: Any) -> Any:
    """Event data as a reader should see it: purged free text reads as removed, not as its commitment."""
    if isinstance(value, dict):
        if set(value) == {REDACTED}:
            return REMOVED
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def to_json(records: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(records), indent=2, ensure_ascii=False)


def to_csv(records: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    # a spreadsheet would run a leading =, +, - or @ as a formula (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
