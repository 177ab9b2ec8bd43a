"""Retention: removing free text from records finished before the cutoff (``sharecheck purge``).

What goes: typed answers in the dialog state (reasons, purpose in brief, why not informed, why this method...),
the recipient's organisation and role, the same text in the decision snapshot, follow-up notes, what a recipient
typed on the receipt page and other free text in the event trail, the recipient description kept for follow-up
messages, and the bodies of the record's outbox messages and of any old ones. A message still queued is not
dropped (nothing is, silently): its body becomes a notice that a message was removed unsent, which is delivered.
What stays, the decision skeleton: ids, times, platform and workspace, case reference, pack and version, decision,
the choices picked, a colleague recipient's user id, and the trail's kinds and times.

The purge does not break the audit trail: free text enters an event's hash only as a salted commitment
(bot.services.audit_hash), so the text and its salt are removed and the commitment left in their place; every hash
still verifies, and a ``purged`` event (counts per field, never text) records that it happened.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage
from bot.packs import PackRegistry
from bot.services.audit import PURGED_KIND
from bot.services.audit_hash import has_free_text, redact
from bot.services.records import append_event
from dialogs.content import AnswerKind, Pack, PackError
from dialogs.messages import Info

REMOVED = "[removed after the retention period]"
"""What a purged free-text answer reads as in the snapshot, the summary and exports."""
ACTOR = "sharecheck:purge"
GENERIC_RECIPIENT = "the recipient"
PURGED_MESSAGE: dict[str, Any] = {"removed": "retention"}
"""The body of a sent or failed message after the purge."""
UNSENT_TITLE = "Message removed after the retention period"
UNSENT_NOTICE = (
    "A ShareCheck message queued for you on {queued_on} could not be delivered before its record reached the end "
    "of its retention period, so its text has been removed."
)
_MESSAGES = select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.created_at, OutboxMessage.message)


def unsent_message(queued_on: datetime) -> dict[str, Any]:
    """The body a still-queued message gets: delivered like any other, and holding nothing typed."""
    line = UNSENT_NOTICE.format(queued_on=f"{queued_on:%d %b %Y}")
    return Info(title=UNSENT_TITLE, lines=(line,)).model_dump(mode="json")


def is_purged_message(body: dict[str, Any]) -> bool:
    return body == PURGED_MESSAGE or body.get("title") == UNSENT_TITLE


@dataclass
class PurgeReport:
    cutoff: datetime
    applied: bool
    records: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    """How many values were removed, per field (never the values)."""


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    packs: PackRegistry,
    now: datetime,
    retention: timedelta,
    apply: bool,
    batch: int = 100,
) -> PurgeReport:
    """Remove free text from records finished before ``now - retention``; with ``apply`` false nothing is kept.

    The dry run goes through exactly the same steps and rolls them back, so it reports what --apply would do.
    """
    report = PurgeReport(cutoff=now - retention, applied=apply)
    handled: set[uuid.UUID] = set()  # outbox messages already purged with their record (counted once)
    last: uuid.UUID | None = None
    while True:
        async with sessions() as session:
            query = (
                select(Check)
                .where(Check.finished_at.is_not(None), Check.finished_at < report.cutoff, Check.purged_at.is_(None))
                .order_by(Check.id)
                .limit(batch)
            )
            if last is not None:
                query = query.where(Check.id > last)
            checks = list(await session.scalars(query.with_for_update(skip_locked=True)))
            if not checks:
                await session.rollback()
                break
            last = checks[-1].id
            for check in checks:
                removed = await _purge_check(session, check, _pack(packs, check.pack_id), now, handled)
                report.records += 1
                report.removed.update(removed)
            if apply:
                await session.commit()
            else:
                await session.rollback()
    async with sessions() as session:
        # message bodies repeat recipient descriptions, notes and what a recipient typed; any past the cutoff
        # (those of no record too: digests) go, queued or not
        rows = (await session.execute(_MESSAGES.where(OutboxMessage.created_at < report.cutoff))).all()
        removed = await _purge_messages(session, [row for row in rows if row[0] not in handled])
        report.removed.update(removed)
        if apply and removed:
            await session.commit()
    return report


async def _purge_messages(session: AsyncSession, rows: Sequence[Any]) -> Counter[str]:
    """Replace the bodies of these outbox messages (id, status, created_at, message): a sent or failed one's by a
    marker, a queued one's by a notice that still goes out (a queued message is never dropped silently)."""
    removed: Counter[str] = Counter()
    for message_id, status, created_at, body in rows:
        if not isinstance(body, dict) or is_purged_message(body):
            continue
        queued = status == "queued"
        removed["outbox.queued_message" if queued else "outbox.message"] += 1
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(message=unsent_message(created_at) if queued else PURGED_MESSAGE)
            .execution_options(synchronize_session=False)
        )
    return removed


def _pack(packs: PackRegistry, pack_id: str) -> Pack | None:
    try:
        return packs.pack(pack_id)
    except (PackError, OSError, KeyError):
        return None  # a pack no longer installed: every typed answer but the case reference counts as free text


def _free_text_steps(pack: Pack | None, answers: dict[str, Any]) -> set[str]:
    steps = set()
    for step_id, value in answers.items():
        if not isinstance(value, dict) or not value.get("text"):
            continue
        if pack is not None and pack.has_step(step_id):
            if pack.step(step_id).kind is AnswerKind.FREE_TEXT:
                steps.add(step_id)
        elif step_id != "case_reference":
            steps.add(step_id)
    return steps


def _typed_once_fields(pack: Pack | None, free: set[str]) -> set[str]:
    if pack is None:
        return set()
    return {name for sid in free if pack.has_step(sid) for name in pack.step(sid).also_fills}


def _field_of(pack: Pack | None, step_id: str) -> str:
    if pack is not None and pack.has_step(step_id):
        return pack.step(step_id).field or step_id
    return step_id


def _strip_recipient(recipient: Any) -> bool:
    """Remove an outside recipient's organisation and role in place; True if there was any."""
    if not isinstance(recipient, dict):
        return False
    found = False
    for key in ("organisation", "role"):
        if recipient.get(key):
            recipient[key] = None
            found = True
    return found


async def _purge_check(
    session: AsyncSession, check: Check, pack: Pack | None, now: datetime, handled: set[uuid.UUID]
) -> Counter[str]:
    removed: Counter[str] = Counter()
    state = dict(check.state)
    answers = {k: dict(v) if isinstance(v, dict) else v for k, v in (state.get("answers") or {}).items()}
    free = _free_text_steps(pack, answers)
    recipient_steps = set()
    for step_id, value in answers.items():
        if step_id in free:
            value["text"] = None
            removed[f"answers.{_field_of(pack, step_id)}"] += 1
        if isinstance(value, dict) and isinstance(value.get("recipient"), dict):
            value["recipient"] = dict(value["recipient"])
            if _strip_recipient(value["recipient"]):
                recipient_steps.add(step_id)
                removed["answers.recipient"] += 1
    state["answers"] = answers
    values: dict[str, Any] = {"state": state, "purged_at": now}

    if check.snapshot:
        snap = dict(check.snapshot)
        stripped: list[dict[str, Any]] = []
        touched_fields: set[str] = set()
        for answered in snap.get("answers", []):
            answered = dict(answered)
            if answered.get("step_id") in free | recipient_steps:
                answered["answer"] = REMOVED
                if answered.get("field"):
                    touched_fields.add(answered["field"])
            stripped.append(answered)
        snap["answers"] = stripped
        fields = dict(snap.get("fields") or {})
        for name in touched_fields:
            # a field is the answers of its steps joined in path order, as dialogs.record.build_snapshot makes it
            fields[name] = "; ".join(a["answer"] for a in stripped if a.get("field") == name)
            removed[f"snapshot.fields.{name}"] += 1
        for name in _typed_once_fields(pack, free) - touched_fields:
            if fields.get(name):  # the same text, copied to the fields it also fills ('type it once')
                fields[name] = REMOVED
                removed[f"snapshot.fields.{name}"] += 1
        snap["fields"] = fields
        if snap.get("reasons"):
            snap["reasons"] = REMOVED
            removed["snapshot.reasons"] += 1
        if snap.get("recipient"):
            snap["recipient"] = dict(snap["recipient"])
            if _strip_recipient(snap["recipient"]):
                removed["snapshot.recipient"] += 1
        values["snapshot"] = snap

    events = await session.scalars(select(CheckEvent).where(CheckEvent.check_id == check.id))
    for event in events:
        if not has_free_text(event.data):
            continue
        counts: dict[str, int] = {}
        data = redact(event.data, event.salt, counts)
        removed.update({f"events.{key}": n for key, n in counts.items()})
        await session.execute(
            update(CheckEvent)
            .where(CheckEvent.id == event.id)
            .values(data=data, salt=None)
            .execution_options(synchronize_session=False)
        )

    follow_ups = list(await session.scalars(select(FollowUp).where(FollowUp.check_id == check.id)))
    if follow_ups:
        # the record's messages, whenever they were queued (a late receipt answer, a reminder still waiting)
        mine = OutboxMessage.follow_up_id.in_([fu.id for fu in follow_ups])
        rows = (await session.execute(_MESSAGES.where(mine))).all()
        handled.update(row[0] for row in rows)
        removed.update(await _purge_messages(session, rows))
    for fu in follow_ups:
        details = dict(fu.details or {})
        if not details.get("recipient_user") and details.get("recipient") not in (None, GENERIC_RECIPIENT):
            details["recipient"] = GENERIC_RECIPIENT
            fu.details = details
            removed["follow_ups.recipient"] += 1
        if details.get("advice_note"):  # the lead's typed line of advice
            details["advice_note"] = None
            fu.details = details
            removed["follow_ups.advice_note"] += 1

    await session.execute(
        update(Check).where(Check.id == check.id).values(**values).execution_options(synchronize_session=False)
    )
    await append_event(session, check.id, PURGED_KIND, ACTOR, now, {"removed": dict(sorted(removed.items()))})
    return removed
