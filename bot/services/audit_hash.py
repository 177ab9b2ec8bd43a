"""The hash functions of the audit trail. Their output is stored evidence: never change what they compute.

An event's hash covers (check_id, seq, at, kind, actor, data, prev_hash) as canonical JSON. Free text in ``data``
(typed answers, recipient organisation and role, follow-up notes, what a recipient types on the receipt page)
enters the hash only as a salted commitment, SHA-256(salt || text). The retention purge removes the text and the
salt but keeps the commitment, so a purged event still verifies while nothing about the removed text (not even a
guess at it) can be checked afterwards.

FREE_TEXT_KEYS may only grow, and only with a migration for the events that already hold a new key (their stored
hash covers the text itself): migration s20_typed_text appends a ``rehashed`` event to each such record, binding
the old hash to the one under the wider rule, which ``sharecheck audit verify`` accepts in its place.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The prev_hash of a record's first event, and the hash of an empty workspace chain."""

FREE_TEXT_KEYS_V1 = frozenset({"text", "note", "organisation", "role"})
"""The rule before migration s20_typed_text (kept to recognise the hashes stored under it)."""
FREE_TEXT_KEYS = FREE_TEXT_KEYS_V1 | {"recipient_name", "recipient_organisation"}
"""Keys of event data whose string values are free text, wherever they appear (answers, recipients, notes, the
receipt page's name and organisation). Anything a person types goes into event data only under one of these."""

REDACTED = "$redacted"
"""A purged free-text value becomes {REDACTED: commitment}."""


def canonical(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8 (what the database returns hashes alike)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def normalise(data: dict[str, Any] | None) -> dict[str, Any]:
    """The data as the database will give it back (tuples become lists, and so on), so hashes match later."""
    result: dict[str, Any] = json.loads(canonical(data or {}))
    return result


def new_salt() -> str:
    return secrets.token_hex(16)


def has_free_text(value: Any, key: str | None = None, keys: frozenset[str] | None = None) -> bool:
    keys = FREE_TEXT_KEYS if keys is None else keys
    if isinstance(value, dict):
        return any(has_free_text(v, k, keys) for k, v in value.items())
    if isinstance(value, list):
        return any(has_free_text(v, key, keys) for v in value)
    return key in keys and isinstance(value, str)


def commitment(salt: str | None, text: str) -> str:
    return hashlib.sha256((salt or "").encode() + b"\x00" + text.encode()).hexdigest()


def hashed_view(value: Any, salt: str | None, key: str | None = None, keys: frozenset[str] | None = None) -> Any:
    """``value`` with each free-text string (or its redaction marker) replaced by the commitment."""
    keys = FREE_TEXT_KEYS if keys is None else keys
    if isinstance(value, dict):
        if set(value) == {REDACTED} and isinstance(value[REDACTED], str):
            return {"$c": value[REDACTED]}
        return {k: hashed_view(v, salt, k, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [hashed_view(v, salt, key, keys) for v in value]
    if key in keys and isinstance(value, str):
        return {"$c": commitment(salt, value)}
    return value


def redact(value: Any, salt: str | None, counts: dict[str, int], key: str | None = None) -> Any:
    """``value`` with free text replaced by redaction markers; ``counts`` gets one per key removed."""
    if isinstance(value, dict):
        if set(value) == {REDACTED}:
            return value
        return {k: redact(v, salt, counts, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, salt, counts, key) for v in value]
    if key in FREE_TEXT_KEYS and isinstance(value, str):
        counts[key] = counts.get(key, 0) + 1
        return {REDACTED: commitment(salt, value)}
    return value


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    check_id: uuid.UUID,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    data: dict[str, Any],
    salt: str | None,
    prev_hash: str,
    keys: frozenset[str] | None = None,
) -> str:
    body = {
        "v": 1,
        "check_id": str(check_id),
        "seq": seq,
        "at": at_text(at),
        "kind": kind,
        "actor": actor,
        "data": hashed_view(data, salt, keys=keys),
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def seal_hash(
    platform: str,
    workspace_id: str,
    workspace_seq: int,
    check_id: uuid.UUID,
    seq: int,
    kind: str,
    event_hash: str,
    prev_workspace_hash: str,
) -> str:
    body = {
        "v": 1,
        "platform": platform,
        "workspace_id": workspace_id,
        "workspace_seq": workspace_seq,
        "check_id": str(check_id),
        "seq": seq,
        "kind": kind,
        "event_hash": event_hash,
        "prev": prev_workspace_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()
