"""typed text under one rule: receipt-page name and organisation committed by hash, purged with the rest

Revision ID: s20_typed_text
Revises: 0005
Create Date: 2026-12-04 17:00:00.000000

Receipt answers recorded before this revision hold the recipient's typed name and organisation under keys the
free-text rule did not know (``recipient_name``, ``recipient_organisation``), so their stored hash covers the text
itself and the purge left it. The rule now knows them (bot.services.audit_hash.FREE_TEXT_KEYS). Rewriting those
hashes would break every chain after them, so each such event keeps its hash, gets a salt if it had none, and its
record gets one ``rehashed`` event listing the stored hash ("was") and the hash under the wider rule ("now"):
``audit verify`` accepts "now" in place of "was", and the purge can then remove the text like any other.

Only events whose stored hash still matches their data under the old rule are vouched for: an event edited before
this revision stays reported as edited. A record already purged has that text removed here at once, and the bodies
of its outbox messages replaced (a queued one by a notice that still goes out).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import bot.db.models
from bot.services.audit import REHASHED_KIND
from bot.services.audit_hash import FREE_TEXT_KEYS, FREE_TEXT_KEYS_V1, event_hash, has_free_text, new_salt, redact
from bot.services.records import Chain, prepare_event
from bot.services.retention import PURGED_MESSAGE, is_purged_message, unsent_message

revision: str = "s20_typed_text"
down_revision: str | None = "i19_playground_picker"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "sharecheck:migration"
NEW_KEYS = FREE_TEXT_KEYS - FREE_TEXT_KEYS_V1

_checks = sa.table(
    "checks",
    sa.column("id", sa.Uuid()),
    sa.column("events_seq", sa.Integer()),
    sa.column("events_hash", sa.String()),
    sa.column("purged_at", bot.db.models.UTCDateTime()),
)
_events = sa.table(
    "check_events",
    sa.column("id", sa.Integer()),
    sa.column("check_id", sa.Uuid()),
    sa.column("seq", sa.Integer()),
    sa.column("at", bot.db.models.UTCDateTime()),
    sa.column("kind", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("data", bot.db.models.JsonType),
    sa.column("salt", sa.String()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
_follow_ups = sa.table("follow_ups", sa.column("id", sa.Uuid()), sa.column("check_id", sa.Uuid()))
_outbox = sa.table(
    "outbox",
    sa.column("id", sa.Uuid()),
    sa.column("follow_up_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("created_at", bot.db.models.UTCDateTime()),
    sa.column("message", bot.db.models.JsonType),
)


def upgrade() -> None:
    conn = op.get_bind()
    now = datetime.now(UTC)
    # the only events that ever held the new keys are answers from the receipt page
    rows = conn.execute(
        sa.select(
            _events.c.id,
            _events.c.check_id,
            _events.c.seq,
            _events.c.at,
            _events.c.kind,
            _events.c.actor,
            _events.c.data,
            _events.c.salt,
            _events.c.prev_hash,
            _events.c.hash,
        )
        .where(_events.c.kind == "follow_up_answered")
        .order_by(_events.c.check_id, _events.c.seq)
    ).all()
    by_check: dict[Any, list[Any]] = {}
    for row in rows:
        if has_free_text(row.data or {}, keys=NEW_KEYS):
            by_check.setdefault(row.check_id, []).append(row)
    for check_id, legacy in by_check.items():
        _rehash(conn, check_id, legacy, now)
    _purge_outbox_of_purged_records(conn)


def _rehash(conn: sa.Connection, check_id: Any, legacy: list[Any], now: datetime) -> None:
    check = conn.execute(
        sa.select(_checks.c.events_seq, _checks.c.events_hash, _checks.c.purged_at).where(_checks.c.id == check_id)
    ).one_or_none()
    if check is None:
        return
    entries: list[dict[str, Any]] = []
    removed: dict[str, int] = {}
    for e in legacy:
        data = e.data or {}
        if event_hash(check_id, e.seq, e.at, e.kind, e.actor, data, e.salt, e.prev_hash) == e.hash:
            continue  # already hashed under the wider rule
        if event_hash(check_id, e.seq, e.at, e.kind, e.actor, data, e.salt, e.prev_hash, FREE_TEXT_KEYS_V1) != e.hash:
            continue  # not what was stored: never vouch for it (verify keeps reporting it)
        # no salt means no free text under the old rule: a salt now changes nothing of the old hash, and keeps
        # the new commitments from being tested against guesses once the text is gone
        salt: str | None = e.salt or new_salt()
        if check.purged_at is not None:  # purged before: this text should have gone with the rest
            data = redact(data, salt, removed)
        rehashed = event_hash(check_id, e.seq, e.at, e.kind, e.actor, data, salt, e.prev_hash)
        if check.purged_at is not None:
            salt = None
        conn.execute(_events.update().where(_events.c.id == e.id).values(data=data, salt=salt))
        entries.append({"seq": e.seq, "was": e.hash, "now": rehashed})
    if not entries:
        return
    payload: dict[str, Any] = {"migration": revision, "events": entries}
    if removed:
        payload["removed"] = {f"events.{key}": n for key, n in sorted(removed.items())}
    chain = Chain(check.events_seq, check.events_hash or "0" * 64)
    event = prepare_event(check_id, chain, REHASHED_KIND, ACTOR, now, payload)
    conn.execute(_events.insert().values(**event))
    conn.execute(
        _checks.update()
        .where(_checks.c.id == check_id)
        .values(events_seq=check.events_seq + 1, events_hash=event["hash"])
    )


def _purge_outbox_of_purged_records(conn: sa.Connection) -> None:
    """Messages of purged records were kept if recent or still queued: they go the way the purge now takes them."""
    purged = sa.select(_follow_ups.c.id).join(_checks, _checks.c.id == _follow_ups.c.check_id)
    purged = purged.where(_checks.c.purged_at.is_not(None))
    rows = conn.execute(
        sa.select(_outbox.c.id, _outbox.c.status, _outbox.c.created_at, _outbox.c.message).where(
            _outbox.c.follow_up_id.in_(purged)
        )
    ).all()
    for message_id, status, created_at, body in rows:
        if not isinstance(body, dict) or is_purged_message(body):
            continue
        replacement = unsent_message(created_at) if status == "queued" else PURGED_MESSAGE
        conn.execute(_outbox.update().where(_outbox.c.id == message_id).values(message=replacement))


def downgrade() -> None:
    # nothing to undo: the rehashed events stay valid history, and text a purge removed cannot come back
    pass
