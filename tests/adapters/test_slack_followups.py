"""Follow-ups on Slack end to end: a check through signed requests, the scheduler's real Slack deliverer against the
fake Web API, and the answers clicked back through the real slack-bolt stack. Time moves with the injected clock."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.slack.delivery import SlackDeliverer
from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage, PlatformUser
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from dialogs.state import Recipient
from sharecheck.platforms import build_deliverers
from tests.support.checks import finish_urgent_check
from tests.support.fake_slack import FakeSlack, Message
from tests.support.followups import seed_due_follow_ups
from tests.support.slack_followups import (
    ALICE,
    BOB,
    TEAM,
    Stack,
    ask,
    click,
    follow_ups,
    note_view,
    responded,
    share,
    share_with_bob,
    submit_note,
    text_of,
)
from tests.support.slack_requests import (
    Practitioner,
    block_actions,
    elements,
    find,
    interaction_body,
    step_of,
)
from tests.support.slack_stack import drain, slack_stack

OTHER_TEAM = "T0000002"
LEAD = "U00000LD"


@pytest.fixture
async def stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    async with slack_stack(sqlite_url, clock) as parts:
        yield parts


@pytest.fixture
async def scheduler(stack: Stack) -> AsyncIterator[Scheduler]:
    runtime = stack[0]
    deliverers = build_deliverers(runtime)
    assert isinstance(deliverers["slack"], SlackDeliverer)  # the real one, against the fake Web API
    sched = Scheduler(runtime, deliverers, instance_id="test")
    try:
        yield sched
    finally:
        await sched.close()


async def trail(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as s:
        return list(await s.scalars(select(CheckEvent.kind).order_by(CheckEvent.at, CheckEvent.seq)))


def buttons(message: Message) -> list[str]:
    return [e["action_id"] for e in elements(message)]


# --- the whole loop --------------------------------------------------------------------------------


async def test_received_and_understood_end_to_end(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, client = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", runtime.clock.now())
    await share_with_bob(stack)
    # the recipient picked in the users_select had their time zone looked up and kept
    assert [c.args["user"] for c in fake.calls_to("users.info")] == [ALICE, BOB]
    async with runtime.sessions() as s:
        assert await s.get(PlatformUser, ("slack", TEAM, BOB)) is not None
    # the check was started in the channel the command came from (leads scoped by channel)
    async with runtime.sessions() as s:
        assert (await s.scalar(select(Check.channel_id))) == "C0ABC123"

    await scheduler.run_once()
    assert fake.dms_to(BOB) == []  # not due yet
    question = await ask(stack, scheduler)
    assert fake.calls_to("conversations.open")[-1].args["users"] == BOB
    assert buttons(question) == ["sc:fu:understood", "sc:fu:clarification", "sc:fu:not_received"]
    assert f"<@{ALICE}> shared information with you about case CS-2024-0113" in text_of(question)
    assert "{user:" not in text_of(question)

    stale = find(question, "sc:fu:understood")
    await click(stack, BOB, question, "sc:fu:understood")
    assert question.updates == 1 and buttons(question) == []
    assert "Thank you: your answer is recorded" in text_of(question)
    [fu] = await follow_ups(runtime)
    assert fu.state == "confirmed"

    await scheduler.run_once()
    [notice] = fake.dms_to(ALICE)[-1:]
    assert f"<@{BOB}> confirmed that the information about case CS-2024-0113 arrived" in text_of(notice)

    # the same button pressed again on the old message: nothing changes, the message says so
    posts = len(fake.calls_to("chat.postMessage"))
    person = Practitioner(client, fake, TEAM, BOB)
    await person.post(interaction_body(block_actions(TEAM, BOB, question, stale)))
    await drain(client)
    assert "already answered" in text_of(question) and question.updates == 2
    await scheduler.run_once()
    assert len(fake.calls_to("chat.postMessage")) == posts
    assert (await follow_ups(runtime))[0].state == "confirmed"
    assert (await trail(runtime)).count("follow_up_answered") == 1
    # confirmed: no nudges, no escalation
    for _ in range(5):
        runtime.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        await scheduler.run_once()
    assert len(fake.calls_to("chat.postMessage")) == posts


async def test_clarification_asks_what_is_unclear_and_tells_the_sender(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await share_with_bob(stack)
    question = await ask(stack, scheduler)
    await click(stack, BOB, question, "sc:fu:clarification")
    view = note_view(fake)
    assert "What is unclear?" in json.dumps(view["blocks"])
    assert (await follow_ups(runtime))[0].state == "awaiting"  # nothing recorded until the note comes
    # an empty note is refused in the modal, with the question
    refused = await submit_note(stack, BOB, view, None)
    assert refused is not None and refused["response_action"] == "errors"
    assert "What is unclear" in refused["errors"]["sc_note"]
    assert await submit_note(stack, BOB, view, "Which <b>school</b> {user:U0000666}?") is None
    assert buttons(question) == [] and "Thank you" in text_of(question)
    fu = (await follow_ups(runtime))[0]
    assert fu.state == "clarification"
    await scheduler.run_once()
    notice = text_of(fake.dms_to(ALICE)[-1])
    assert "needs clarification" in notice and "&lt;b&gt;school&lt;/b&gt;" in notice
    assert "<@U0000666>" not in notice  # a typed note cannot mention anyone


async def test_not_received_alerts_the_sender_and_the_lead(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "user", ALICE, runtime.clock.now())
    await share_with_bob(stack)
    question = await ask(stack, scheduler)
    await click(stack, BOB, question, "sc:fu:not_received")
    assert (await follow_ups(runtime))[0].state == "not_received"
    await scheduler.run_once()
    alert, offer = fake.dms_to(ALICE)[-2:]
    assert "NOT arrived" in text_of(alert)
    # then the professional-disagreement route is offered, with its buttons
    assert "professional disagreement" in text_of(offer) and buttons(offer)
    [escalation] = fake.dms_to(LEAD)
    assert "Safeguarding follow-up needs you: case CS-2024-0113" in text_of(escalation)
    assert f"<@{BOB}> reports" in text_of(escalation) and "Trail:" in text_of(escalation)


async def test_unanswered_is_nudged_then_escalated_to_the_lead(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", runtime.clock.now())
    await share_with_bob(stack)  # Tue 10:00
    for _ in range(4 * 24):
        runtime.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        await scheduler.run_once()
    to_bob = fake.dms_to(BOB)
    assert len(to_bob) == 3 and all(buttons(m) for m in to_bob)
    assert [("Reminder" in text_of(m)) for m in to_bob] == [False, True, True]
    [escalation] = fake.dms_to(LEAD)
    assert "still no confirmation" in text_of(escalation)
    # a late answer on the newest reminder is still taken; the older messages then say it was answered
    await click(stack, BOB, to_bob[-1], "sc:fu:understood")
    assert (await follow_ups(runtime))[0].state == "confirmed"
    await click(stack, BOB, to_bob[0], "sc:fu:not_received")
    assert "already answered" in text_of(to_bob[0])
    assert (await follow_ups(runtime))[0].state == "confirmed"


async def test_recipient_outside_the_workspace_means_the_sender_is_asked(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", runtime.clock.now())
    await share(stack, {"decision": "share"})  # an organisation and role
    question = await ask(stack, scheduler, ALICE)
    assert buttons(question) == ["sc:fu:confirmed", "sc:fu:remind_me", "sc:fu:could_not_confirm"]
    assert "MASH detective sergeant, Northshire Police" in text_of(question)

    await click(stack, ALICE, question, "sc:fu:remind_me")
    assert "ask again" in text_of(question) and buttons(question) == []
    reminder = await ask(stack, scheduler, ALICE, hours=24)
    # 'confirmed' takes an optional note: the modal opens, and an empty note is fine
    await click(stack, ALICE, reminder, "sc:fu:confirmed")
    view = note_view(fake)
    [note_input] = [b for b in view["blocks"] if b["type"] == "input"]
    assert note_input["optional"] is True and note_input["element"]["max_length"] == 1000
    assert await submit_note(stack, ALICE, view, "Phone call with the duty sergeant") is None
    assert "receipt and understanding confirmed" in text_of(reminder)
    async with runtime.sessions() as s:
        answered = list(await s.scalars(select(CheckEvent).where(CheckEvent.kind == "follow_up_answered")))
    assert [e.data.get("note") for e in answered] == [None, "Phone call with the duty sergeant"]
    assert fake.dms_to(LEAD) == []


async def test_follow_ups_wait_for_the_recipients_working_hours(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    fake.users[BOB] = {"tz": "Asia/Tokyo"}
    await share_with_bob(stack)  # Tue 10:00 UTC; + 4 h = 23:00 in Tokyo
    [fu] = await follow_ups(runtime)
    assert fu.due_at == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # Wed 08:00 in Tokyo
    runtime.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
    await scheduler.run_once()
    assert fake.dms_to(BOB) == []
    await ask(stack, scheduler, BOB, hours=9)


# --- workspaces ---------------------------------------------------------------------------------


async def test_another_workspace_cannot_answer(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await share_with_bob(stack)
    question = await ask(stack, scheduler)
    for action in ("sc:fu:understood", "sc:fu:clarification"):
        ephemerals = len(fake.calls_to("chat.postEphemeral"))
        await click(stack, BOB, question, action, team=OTHER_TEAM)  # the same user id in team T2
        await fake.wait_for(lambda n=ephemerals: len(fake.calls_to("chat.postEphemeral")) > n)
        note = fake.calls_to("chat.postEphemeral")[-1].args
        assert note["user"] == BOB and "not one ShareCheck can find for you" in note["text"]
    assert question.updates == 0 and buttons(question)
    assert fake.calls_to("views.open")[-1].args["view"]["callback_id"] != "sc:fu_note"
    assert (await follow_ups(runtime))[0].state == "awaiting"
    # a forged button value for a follow-up that does not exist: the same polite answer
    forged = {**find(question, "sc:fu:understood"), "value": json.dumps({"f": str(uuid.uuid4()), "v": "understood"})}
    person = Practitioner(stack[2], fake, TEAM, BOB)
    await person.post(interaction_body(block_actions(TEAM, BOB, question, forged)))
    await drain(stack[2])
    assert "not one ShareCheck can find" in fake.calls_to("chat.postEphemeral")[-1].args["text"]
    # a value that is not ours at all is refused before any listener
    junk = {**forged, "value": "{not json"}
    assert (await person.post(interaction_body(block_actions(TEAM, BOB, question, junk)))).status == 400


# --- the platform misbehaving -----------------------------------------------------------------------


def asked_per_follow_up(fake: FakeSlack) -> Counter[str]:
    """How many successful chat.postMessage calls carried each follow-up's buttons."""
    counts: Counter[str] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        for block in json.loads(call.args["blocks"]) if isinstance(call.args["blocks"], str) else call.args["blocks"]:
            if block["type"] == "actions" and block["elements"][0]["action_id"].startswith("sc:fu:"):
                counts[json.loads(block["elements"][0]["value"])["f"]] += 1
    return counts


async def test_rate_limits_and_server_errors_lose_and_duplicate_nothing(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    ids = await seed_due_follow_ups(runtime, 30)
    fake.rate_limit("chat.postMessage", retry_after=30, times=3)
    fake.server_error("chat.postMessage", 503, times=4)
    fake.server_error("conversations.open", 500, times=2)
    stats = await scheduler.run_once()
    assert stats.retried == 9 and stats.delivered == 21
    async with runtime.sessions() as s:
        waiting = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.status == "queued")))
    limited = [m for m in waiting if m.last_error == "ratelimited"]
    assert len(limited) == 3
    assert all(m.due_at >= runtime.clock.now() + timedelta(seconds=30) for m in limited)  # Retry-After honoured
    runtime.clock.advance(timedelta(seconds=29))  # type: ignore[attr-defined]
    assert (await scheduler.run_once()).delivered == 6  # the 5xx ones (backoff under 30 s), not the rate-limited
    runtime.clock.advance(timedelta(seconds=60))  # type: ignore[attr-defined]
    assert (await scheduler.run_once()).delivered == 3
    counts = asked_per_follow_up(fake)
    assert sorted(counts) == sorted(str(i) for i in ids) and set(counts.values()) == {1}


@pytest.mark.parametrize("error", ["user_not_found", "account_inactive"])
async def test_a_recipient_who_left_is_undeliverable_and_the_sender_told(
    stack: Stack, scheduler: Scheduler, error: str
) -> None:
    runtime, fake, _ = stack
    await share_with_bob(stack)
    fake.gone[BOB] = error
    runtime.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
    stats = await scheduler.run_once()
    assert stats.failed == 1 and fake.dms_to(BOB) == []
    fu, instead = await follow_ups(runtime)
    assert fu.state == "undeliverable"
    # and the sender is asked to confirm receipt another way, in a follow-up of their own
    assert instead.kind == "sender_confirm" and instead.target_id == ALICE
    await scheduler.run_once()  # the notice to the sender was queued by the failure; it goes out now
    dms = [text_of(dm) for dm in fake.dms_to(ALICE)]
    assert any(f"could not reach <@{BOB}> about case CS-2024-0113" in dm for dm in dms)
    assert any("Have you confirmed with them" in dm for dm in dms)
    assert "follow_up_undeliverable" in await trail(runtime)
    async with runtime.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.user_id == BOB))
        assert row is not None and row.status == "failed" and row.last_error == error


# --- digests ----------------------------------------------------------------------------------------


async def test_the_scheduled_digest_reaches_the_leads_dm_on_monday_morning(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    clock: ManualClock = runtime.clock  # type: ignore[assignment]
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", clock.now())
    await share(stack, {"decision": "share"})
    clock.set(datetime(2026, 11, 30, 8, 59, tzinfo=UTC))  # Monday 08:59 in London
    await scheduler.run_once()
    assert [m for m in fake.dms_to(LEAD) if "Information sharing" in text_of(m)] == []
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    await scheduler.run_once()
    await scheduler.run_once()  # once per period, however often the scheduler runs
    [digest] = [m for m in fake.dms_to(LEAD) if "Information sharing in your team" in text_of(m)]
    assert "Checks completed" in text_of(digest) and "week to Mon 30 Nov 2026" in text_of(digest)


# --- administration -----------------------------------------------------------------------------------

ADMIN = "U0000ADM"


@pytest.fixture
async def admin_stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    async with slack_stack(sqlite_url, clock, sharecheck_admins=f"slack:{ADMIN}") as parts:
        yield parts


async def test_an_admin_names_people_and_channels_by_mention(admin_stack: Stack) -> None:
    """Slack's escaped mentions become ids, and the people in the answer are mentioned back. What the admin
    words mean, and who may use them, is the conversation's (tests/service/test_conversation_roles.py)."""
    runtime, fake, client = admin_stack
    admin = Practitioner(client, fake, TEAM, ADMIN)
    await admin.command(f"admin lead add <@{LEAD}|lead> <@{ALICE}|alice> <#C0SAFE01|safeguarding>")
    answer = await responded(fake, 1)
    assert answer["response_type"] == "ephemeral"
    named = f"<@{LEAD}> is now the safeguarding lead for <@{ALICE}>, checks started in 1 channel."
    assert named in json.dumps(answer["blocks"])
    rows = {(r.lead_id, r.scope, r.scope_value) for r in await runtime.leads.list("slack")}
    assert rows == {(LEAD, "user", ALICE), (LEAD, "channel", "C0SAFE01")}
    await admin.command("admin lead add bob alice")  # names typed, not picked: never guessed
    assert "ShareCheck administration" in json.dumps(await responded(fake, 2))
    assert len(await runtime.leads.list("slack")) == 2


# --- seeking advice without losing the thread ------------------------------------------------------


async def test_ask_my_lead_now_and_resume_with_the_advice(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, client = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "user", ALICE, runtime.clock.now())
    alice = Practitioner(client, fake, TEAM, ALICE)
    await alice.start()
    pack = runtime.packs.pack()
    await alice.complete(pack, until="gates")
    await alice.answer_fields({"purpose": "unsure", "risk_of_harm": "yes"})
    assert step_of(alice.check_message())[0] == "advice_purpose"
    asking = await alice.click_and_wait("sc:choice:ask_lead")
    # the check waits at the questions it was asked about, saying so, with the urgent exit still there
    assert step_of(asking)[0] == "gates"
    assert "I have asked your safeguarding lead for advice" in text_of(asking)
    assert "sc:urgent" in buttons(asking)

    await scheduler.run_once()
    [request] = fake.dms_to(LEAD)
    assert "Advice needed now: case CS-2024-0113" in text_of(request)
    assert f"<@{ALICE}> is doing a ShareCheck" in text_of(request)
    assert "The question: Is there a clear safeguarding purpose" in text_of(request)
    assert buttons(request) == ["sc:fu:share_ok", "sc:fu:dont_share", "sc:fu:talk"]
    # the lead answers in one click and a line, in the modal the button opens
    await click(stack, LEAD, request, "sc:fu:share_ok")
    assert await submit_note(stack, LEAD, note_view(fake), "Refer to MASH <today>") is None
    assert "Thank you" in text_of(request) and buttons(request) == []

    await scheduler.run_once()
    [advice] = fake.dms_to(ALICE)[-1:]
    assert "Advice from your safeguarding lead: case CS-2024-0113" in text_of(advice)
    assert "Your safeguarding lead advised on case CS-2024-0113: Sharing is justified" in text_of(advice)
    assert "Refer to MASH &lt;today&gt;" in text_of(advice)

    # the practitioner carries on at the question, and the case notes carry the advice
    await alice.complete(pack, {"purpose": "yes", "decision": "share", "recipient": Recipient(user_id=BOB)})
    await drain(client)
    summary = fake.dms_to(ALICE)[-1]
    assert "Advice from the safeguarding lead" in text_of(summary) and "Sharing is justified" in text_of(summary)
    kinds = await trail(runtime)
    assert kinds.index("advice_requested") < kinds.index("advice_given") < kinds.index("completed")


# --- professional disagreement -------------------------------------------------------------------


async def test_not_received_leads_through_the_disagreement_stages(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", runtime.clock.now())
    await share_with_bob(stack)
    question = await ask(stack, scheduler)
    await click(stack, BOB, question, "sc:fu:not_received")
    await scheduler.run_once()
    offer = fake.dms_to(ALICE)[-1]
    assert buttons(offer) == ["sc:fu:start", "sc:fu:not_needed"]
    await click(stack, ALICE, offer, "sc:fu:start")
    assert "Stage 1 started for case CS-2024-0113, due by Thu 26 Nov 2026" in text_of(offer)
    escalations = len(fake.dms_to(LEAD))

    # stage 1 is due: the practitioner is asked how it went, and moves on; the lead is told at stage 2
    stage = await ask(stack, scheduler, ALICE, hours=48)
    assert "Professional disagreement, case CS-2024-0113: Stage 1" in text_of(stage)
    assert buttons(stage) == ["sc:fu:resolved", "sc:fu:next_stage"]
    await click(stack, ALICE, stage, "sc:fu:next_stage")
    assert await submit_note(stack, ALICE, note_view(fake), "They still say it never came") is None
    await scheduler.run_once()
    [told] = fake.dms_to(LEAD)[escalations:]
    assert f"<@{ALICE}> has moved a professional disagreement about case CS-2024-0113 to Stage 2" in text_of(told)
    kinds = await trail(runtime)
    assert kinds.count("disagreement_stage") == 2 and "disagreement_offered" in kinds


async def test_disagree_with_the_recipients_response_by_command(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, client = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", runtime.clock.now())
    await share_with_bob(stack)
    question = await ask(stack, scheduler)
    await click(stack, BOB, question, "sc:fu:understood")
    await scheduler.run_once()
    notice = fake.dms_to(ALICE)[-1]
    # the sender is told how to disagree with the response, in Slack's own words
    assert "`/share-check disagree CS-2024-0113` starts the local professional disagreement route" in text_of(notice)

    alice = Practitioner(client, fake, TEAM, ALICE)
    answered = len(fake.calls_to("response_url"))
    await alice.command("disagree CS-2024-0113")
    answer = (await fake.wait_calls("response_url", answered + 1))[-1].args
    assert answer["response_type"] == "ephemeral"
    assert "Stage 1 started for case CS-2024-0113" in json.dumps(answer["blocks"])
    async with runtime.sessions() as s:
        routes = list(await s.scalars(select(FollowUp).where(FollowUp.kind == "disagreement")))
    assert len(routes) == 1 and routes[0].details["stage"] == 1


# --- the urgent path -------------------------------------------------------------------------------


async def test_the_urgent_reminder_to_confirm_in_writing_is_one_click(stack: Stack, scheduler: Scheduler) -> None:
    runtime, fake, _ = stack
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", runtime.clock.now())
    await finish_urgent_check(runtime, Actor("slack", TEAM, ALICE))
    runtime.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
    await scheduler.run_once()
    [reminder] = [m for m in fake.dms_to(ALICE) if "Confirm the urgent referral in writing" in text_of(m)]
    assert buttons(reminder) == ["sc:fu:in_writing", "sc:fu:not_needed", "sc:fu:remind_me"]
    assert "by Thu 26 Nov 2026 10:00" in text_of(reminder)
    # 'not yet' now, 'not needed' (with the optional note) on the next reminder
    await click(stack, ALICE, reminder, "sc:fu:remind_me")
    assert "ask again" in text_of(reminder) and buttons(reminder) == []
    runtime.clock.advance(timedelta(hours=24))  # type: ignore[attr-defined]
    await scheduler.run_once()
    [again] = [m for m in fake.dms_to(ALICE) if "Reminder: Confirm the urgent referral" in text_of(m)]
    await click(stack, ALICE, again, "sc:fu:not_needed")
    assert await submit_note(stack, ALICE, note_view(fake), "The police took the referral") is None
    assert "no written confirmation is needed for case CS-2024-0113" in text_of(again)
    async with runtime.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.kind == "written_confirmation"))
        answers = list(await s.scalars(select(CheckEvent).where(CheckEvent.kind == "follow_up_answered")))
    assert fu is not None and fu.state == "not_needed"
    assert [(e.data["answer"], e.data.get("note")) for e in answers] == [
        ("remind_me", None),
        ("not_needed", "The police took the referral"),
    ]
