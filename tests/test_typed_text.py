"""Everything a person types, wherever they type it, is under one rule: the same personal-data guard, committed by
hash, and removed by the purge with the trail still verifying (issue 20.2)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db.migrate import upgrade
from bot.db.models import CheckEvent, FollowUp, OutboxMessage
from bot.runtime import Runtime
from bot.services import audit_hash
from bot.services.audit import REHASHED_KIND, seal_pending, verify
from bot.services.retention import UNSENT_TITLE, purge
from tests.conftest import make_settings
from tests.support.receipts import LEAD, ORGANISATION, PUBLIC_URL, SENDER, finish, receipt_runtime, token_of

SIX_YEARS = timedelta(days=6 * 365)
NAME, TYPED_ORG = "Kit Marlowe", "Eastvale Youth Offending Team"
NAME_B, TYPED_ORG_B = "Ada Byron", "Westmoor Health Visiting"
RECEIPT_SETTINGS: dict[str, Any] = {
    "sharecheck_public_url": PUBLIC_URL,
    "sharecheck_organisation_name": ORGANISATION,
    "sharecheck_secret_key": "test-secret-key-for-receipt-forms",
}


async def _everything(rt: Runtime) -> str:
    """Every event, follow-up and outbox message, as text, to search for what should be gone."""
    async with rt.sessions() as s:
        events = [e.data for e in await s.scalars(select(CheckEvent))]
        details = [f.details for f in await s.scalars(select(FollowUp))]
        messages = [m.message for m in await s.scalars(select(OutboxMessage))]
    return json.dumps([events, details, messages], ensure_ascii=False)


async def _queued(rt: Runtime) -> dict[uuid.UUID, dict[str, Any]]:
    async with rt.sessions() as s:
        rows = await s.execute(select(OutboxMessage.id, OutboxMessage.message).where(OutboxMessage.status == "queued"))
        return {message_id: body for message_id, body in rows}


async def _intact(rt: Runtime) -> None:
    report = await verify(rt.sessions)
    assert report.intact, [f.line() for f in report.findings]
    await seal_pending(rt.sessions, rt.clock.now())
    report = await verify(rt.sessions)
    assert report.intact, [f.line() for f in report.findings]


@pytest.fixture
async def rt(db_url: str, clock: ManualClock) -> AsyncIterator[Runtime]:
    async with receipt_runtime(db_url, clock) as runtime:
        await runtime.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
        yield runtime


async def test_the_purge_removes_what_a_recipient_typed_and_queued_messages_quoting_it(
    rt: Runtime, clock: ManualClock
) -> None:
    _, done = await finish(rt, SENDER, {})
    outcome, _ = await rt.receipts.answer(token_of(done), "no_information", None, NAME, TYPED_ORG)
    assert outcome == "recorded"
    queued = await _queued(rt)
    assert any(NAME in json.dumps(body) for body in queued.values())  # to the sender and the lead, not yet sent
    assert NAME in await _everything(rt) and TYPED_ORG in await _everything(rt)
    await _intact(rt)

    clock.advance(SIX_YEARS + timedelta(days=1))
    dry = await purge(rt.sessions, rt.packs, clock.now(), SIX_YEARS, apply=False)
    assert dry.removed["events.recipient_name"] == 1 and dry.removed["events.recipient_organisation"] == 1
    assert NAME in await _everything(rt)
    done_report = await purge(rt.sessions, rt.packs, clock.now(), SIX_YEARS, apply=True)
    assert done_report.removed == dry.removed
    assert done_report.removed["outbox.queued_message"] == len(queued)
    stored = await _everything(rt)
    assert NAME not in stored and TYPED_ORG not in stored and "Marlowe" not in stored
    # the queued messages are not dropped: each still goes out, saying a message was removed unsent
    after = await _queued(rt)
    assert set(after) == set(queued)
    assert all(body["title"] == UNSENT_TITLE and body["type"] == "info" for body in after.values())
    await _intact(rt)


async def test_the_migration_brings_old_receipt_answers_under_the_rule(
    db_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(upgrade, db_url, "0005")
    rt = await Runtime.create(make_settings(db_url, **RECEIPT_SETTINGS), clock=clock, migrate=False)
    try:
        await rt.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
        # the code before this change: the receipt page's name and organisation were not free text to the hash
        monkeypatch.setattr(audit_hash, "FREE_TEXT_KEYS", audit_hash.FREE_TEXT_KEYS_V1)
        old_id, done = await finish(rt, SENDER, {})
        await rt.receipts.answer(token_of(done), "no_information", None, NAME, TYPED_ORG)
        await _intact(rt)
        # ...and its purge left that text in the trail and skipped the queued messages quoting it
        clock.advance(SIX_YEARS + timedelta(days=1))
        queued = await _queued(rt)
        await purge(rt.sessions, rt.packs, clock.now(), SIX_YEARS, apply=True)
        async with rt.sessions.begin() as s:
            for message_id, body in queued.items():
                await s.execute(
                    OutboxMessage.__table__.update().where(OutboxMessage.id == message_id).values(message=body)
                )
        recent_id, done = await finish(rt, SENDER, {})
        await rt.receipts.answer(token_of(done), "understood", "Strategy meeting today", NAME_B, TYPED_ORG_B)
        await _intact(rt)
        assert NAME in await _everything(rt) and NAME_B in await _everything(rt)
        monkeypatch.undo()
        assert not (await verify(rt.sessions)).intact  # today's rule reads those hashes differently

        await asyncio.to_thread(upgrade, db_url)
        await _intact(rt)
        stored = await _everything(rt)
        assert NAME not in stored and TYPED_ORG not in stored, "a record already purged loses it at once"
        assert NAME_B in stored and TYPED_ORG_B in stored, "a record inside its retention period keeps it"
        async with rt.sessions() as s:
            rehashed = list(await s.scalars(select(CheckEvent).where(CheckEvent.kind == REHASHED_KIND)))
        assert sorted(e.check_id for e in rehashed) == sorted([old_id, recent_id])
        assert all(b["title"] == UNSENT_TITLE for m, b in (await _queued(rt)).items() if m in queued)

        clock.advance(SIX_YEARS + timedelta(days=1))
        report = await purge(rt.sessions, rt.packs, clock.now(), SIX_YEARS, apply=True)
        assert report.records == 1 and report.removed["events.recipient_name"] == 1
        stored = await _everything(rt)
        assert NAME_B not in stored and TYPED_ORG_B not in stored and "Strategy meeting" not in stored
        await _intact(rt)
        await asyncio.to_thread(upgrade, db_url)  # a second run finds nothing left to do
        await _intact(rt)
    finally:
        await rt.close()
