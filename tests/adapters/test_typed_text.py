"""Everything a person types, wherever they type it, is under one rule: the same personal-data guard, committed by
hash, and removed by the purge with the trail still verifying (issue 20.2)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic.script import ScriptDirectory
from sqlalchemy import select

from adapters.console import CONSOLE, ConsoleChat, ConsoleInbox
from adapters.receipt import csrf_token
from bot.checks.models import Actor, Outcome, Reply
from bot.clock import ManualClock
from bot.conversation import Conversation
from bot.db.migrate import alembic_config, upgrade
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services import audit_hash
from bot.services.audit import REHASHED_KIND, seal_pending, verify
from bot.services.receipts import hash_token
from bot.services.retention import UNSENT_TITLE, purge
from dialogs.messages import Prompt
from dialogs.state import Answer, Recipient
from sharecheck.platforms import build_deliverers
from sharecheck.web import build_app
from tests.support.console import RECIPIENT as CONSOLE_RECIPIENT
from tests.support.flows import answer_at
from tests.support.receipts import LEAD, ORGANISATION, PUBLIC_URL, SENDER, finish, receipt_runtime, token_of
from tests.support.receipts import follow_up as follow_up_of
from tests.support.service_checks import ALICE
from tests.support.settings import make_settings
from tests.support.slack_followups import BOB, Stack, ask, click, follow_ups, note_view, share_with_bob, submit_note
from tests.support.slack_stack import slack_stack

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
    # the schema just before this rule's migration (every table the code of today writes, but the old hashes)
    before = ScriptDirectory.from_config(alembic_config(db_url)).get_revision("s20_typed_text").down_revision
    assert isinstance(before, str)
    await asyncio.to_thread(upgrade, db_url, before)
    rt = await Runtime.create(make_settings(db_url, **RECEIPT_SETTINGS), clock=clock, migrate=False)
    try:
        await rt.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
        # the code before this change: the receipt page's name and organisation were not free text to the hash
        monkeypatch.setattr(audit_hash, "FREE_TEXT_KEYS", audit_hash.FREE_TEXT_KEYS_V1)
        old_id, done = await finish(rt, SENDER, {})
        await rt.receipts.answer(token_of(done), "no_information", "We checked the secure inbox", NAME, TYPED_ORG)
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
        assert "secure inbox" not in stored
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


# --- one personal-data guard for everything typed ----------------------------------------------------------------

NHS = "943 476 5919"  # passes the NHS number's check digit
PHONE = "07700 900123"


async def _trail(rt: Runtime, check_id: uuid.UUID | None = None) -> list[CheckEvent]:
    async with rt.sessions() as s:
        query = select(CheckEvent).order_by(CheckEvent.at, CheckEvent.seq)
        if check_id is not None:
            query = query.where(CheckEvent.check_id == check_id)
        return list(await s.scalars(query))


async def _at_step(rt: Runtime, actor: Actor, step_id: str, script: dict[str, Any]) -> Reply:
    reply = await rt.checks.start(actor)
    engine = rt.packs.engine()
    while isinstance(reply.message, Prompt) and reply.message.step_id != step_id:
        async with rt.sessions() as s:
            row = await s.get(Check, reply.check_id)
            assert row is not None
            state = engine.load(row.state)
        reply = await rt.checks.answer(actor, reply.check_id, answer_at(engine.pack, state, script))
    assert isinstance(reply.message, Prompt) and reply.message.step_id == step_id
    return reply


async def test_a_recipients_organisation_and_role_typed_in_chat_get_the_same_warning(runtime: Runtime) -> None:
    reply = await _at_step(runtime, ALICE, "recipient", {"immediate_danger": "no", "decision": "share"})
    typed = Recipient(organisation="Northshire Police", role=f"DS Smith, mobile {PHONE}")
    base = {"step_id": "recipient", "revision": reply.message.revision}
    warned = await runtime.checks.answer(ALICE, reply.check_id, Answer(**base, recipient=typed))
    assert warned.outcome is Outcome.REFUSED and warned.message.personal_data_warning
    assert "a phone number" in (warned.message.notice or "")
    kept = await runtime.checks.answer(
        ALICE, reply.check_id, Answer(**base, recipient=typed, confirm_personal_data=True)
    )
    assert kept.outcome is Outcome.ADVANCED
    events = await _trail(runtime, reply.check_id)
    assert [e.data for e in events if e.kind == "personal_data_warning"] == [{"step": "recipient", "kinds": ["phone"]}]
    answered = next(e for e in events if e.kind == "answered" and e.data["step"] == "recipient")
    assert answered.data["personal_data"] == ["phone"]


# the share path typed in the console: 'before you start' (asked for it), 'should you share?', share, what and
# why; then, after the recipient, 'how' (NHSmail, now, public task, no special category, will tell them, asked
# today), everything true before sending, and Save on the review
CONSOLE_START = ["2", "1", "1", "1", "", "CS-2024-0113"]
CONSOLE_TO_RECIPIENT = [*CONSOLE_START, "1", "So the health visitor can monitor the weight concerns from the review."]
CONSOLE_AFTER_RECIPIENT = ["2", "1", "1", "2", "2", "now", "a", "s"]


async def test_the_console_keeps_a_warned_recipient_with_keep(runtime: Runtime) -> None:
    script = [*CONSOLE_TO_RECIPIENT, f"{CONSOLE_RECIPIENT} {PHONE}", "keep", *CONSOLE_AFTER_RECIPIENT]
    stdin, stdout = io.StringIO("\n".join(script) + "\n"), io.StringIO()
    actor = Actor("console", "local", "alice")
    assert await ConsoleChat(Conversation(runtime, CONSOLE), actor.user_id, stdin, stdout).run() == 0
    out = " ".join(stdout.getvalue().split())
    assert "This looks like it contains a phone number" in out and "'keep' to keep it as it is" in out
    assert "DECISION RECORDED: SHARE" in out


@pytest.fixture
async def stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    async with slack_stack(sqlite_url, clock) as parts:
        yield parts


@pytest.fixture
async def scheduler(stack: Stack) -> AsyncIterator[Scheduler]:
    sched = Scheduler(stack[0], build_deliverers(stack[0]), instance_id="test")
    try:
        yield sched
    finally:
        await sched.close()


async def test_a_follow_up_note_typed_in_slack_with_an_identifier_is_refused_in_the_modal(
    stack: Stack, scheduler: Scheduler
) -> None:
    runtime, fake, _ = stack
    await share_with_bob(stack)
    question = await ask(stack, scheduler)
    await click(stack, BOB, question, "sc:fu:clarification")
    view = note_view(fake)
    refused = await submit_note(stack, BOB, view, f"Is this the boy with NHS number {NHS}?")
    assert refused is not None and refused["response_action"] == "errors"
    assert "an NHS number" in refused["errors"]["sc_note"]
    [fu] = await follow_ups(runtime)
    assert fu.state == "awaiting", "nothing answered"
    events = await _trail(runtime)
    assert [e.data["kinds"] for e in events if e.kind == "personal_data_warning"] == [["nhs_number"]]
    assert "follow_up_answered" not in [e.kind for e in events]
    assert "5919" not in json.dumps([e.data for e in events]), "the warning keeps the kinds, never the text"
    assert await submit_note(stack, BOB, view, "Which school does he attend?") is None
    assert (await follow_ups(runtime))[0].state == "clarification"


async def test_a_leads_advice_note_in_the_console_is_warned_then_kept_with_keep(
    sqlite_url: str, clock: ManualClock
) -> None:
    settings = make_settings(sqlite_url, sharecheck_default_lead="console:dsl")
    rt = await Runtime.create(settings, clock, migrate=True)
    try:
        alice, lead = Actor("console", "local", "alice"), Actor("console", "local", "dsl")
        # not sure of the purpose ('should you share?'): 'Ask my lead now', and the check waits
        unsure = ["2", "1", "3", "1", "", "CS-2024-0113", "1", "quit"]
        stdin, stdout = io.StringIO("\n".join(unsure) + "\n"), io.StringIO()
        await ConsoleChat(Conversation(rt, CONSOLE), alice.user_id, stdin, stdout).run()
        note = f"Refer to MASH; the GP is on {PHONE}"
        stdin, stdout = io.StringIO("\n".join(["1", note, "keep"]) + "\n"), io.StringIO()
        await ConsoleInbox(Conversation(rt, CONSOLE), lead.user_id, stdin, stdout).run()
        out = " ".join(stdout.getvalue().split())
        assert "This looks like it contains a phone number" in out and "Type a new note, or 'keep'" in out
        assert "Thank you: your answer is recorded" in out
        events = await _trail(rt)
        warning = next(e for e in events if e.kind == "personal_data_warning")
        assert warning.data["kinds"] == ["phone"] and warning.data["field"] == "note"
        given = next(e for e in events if e.kind == "advice_given")
        assert given.data["note"] == note and given.data["personal_data"] == ["phone"]
    finally:
        await rt.close()


async def test_receipt_page_fields_with_identifiers_are_refused_and_nothing_recorded(
    rt: Runtime, clock: ManualClock
) -> None:
    check_id, done = await finish(rt, SENDER, {})
    token = token_of(done)
    async with TestClient(TestServer(build_app(rt))) as client:
        csrf = csrf_token(rt.receipts.secret_key, hash_token(token))
        typed = {"csrf": csrf, "name": NAME, "organisation": f"{TYPED_ORG}, {PHONE}", "answer": "clarification"}
        resp = await client.post(f"/r/{token}", data={**typed, "unclear": f"Is it NHS {NHS}?"})
        body = await resp.text()
        assert resp.status == 400
        assert '<a href="#organisation">This looks like it contains' in body
        assert '<a href="#unclear">This looks like it contains' in body
        assert PHONE in body, "what they typed is kept on the form for them to edit"
        events = await _trail(rt, check_id)
        assert "follow_up_answered" not in [e.kind for e in events]
        [warning] = [e for e in events if e.kind == "personal_data_warning"]
        assert warning.actor == "sharecheck:receipt-link"
        assert warning.data == {
            "via": "receipt_link",
            "fields": ["organisation", "note"],
            "kinds": ["nhs_number", "phone"],
        }
        resp = await client.post(f"/r/{token}", data={**typed, "organisation": TYPED_ORG, "unclear": "Which address?"})
        assert resp.status == 200
    fu = await follow_up_of(rt, check_id)
    assert fu.state == "clarification"
