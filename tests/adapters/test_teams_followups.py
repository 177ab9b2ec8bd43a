"""'Received and understood' on Teams, end to end: checks through Activity JSON, the real scheduler with the
TeamsDeliverer and the real Agents SDK, cards to the fake connector, answers pressed as Teams sends them
(Action.Execute invokes and Action.Submit messages); digests; on SQLite and PostgreSQL. (Admin commands and other
typed requests in-process: tests/adapters/test_teams_conversation.py.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.teams.delivery import TeamsDeliverer
from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent, FollowUp, OutboxMessage
from bot.delivery import Delivered, Refused, RetryLater, Undeliverable
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.users import get_user
from dialogs.messages import Info
from sharecheck.platforms import build_deliverers
from tests.support.adaptive_cards import inputs
from tests.support.checks import finish_urgent_check
from tests.support.fake_connector import FakeConnector
from tests.support.teams import (
    BOT,
    EMULATOR,
    MESSAGE,
    TENANT,
    WORKSPACE,
    actions,
    activity,
    find_action,
    press,
    step_of,
)
from tests.support.teams_followups import ADMIN, COLLEAGUE, LEAD, SENDER, Teams, dm, make_admin, mention, text_of

CONFIRM_AFTER = timedelta(hours=4)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)


@pytest.fixture
def scheduler(runtime: Runtime) -> Scheduler:
    return Scheduler(runtime, build_deliverers(runtime), instance_id="teams-test")


async def follow_up(runtime: Runtime, check_id: uuid.UUID) -> FollowUp:
    async with runtime.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.check_id == check_id).order_by(FollowUp.created_at))
    assert fu is not None
    return fu


async def trail(runtime: Runtime, check_id: uuid.UUID) -> list[str]:
    async with runtime.sessions() as s:
        rows = await s.scalars(select(CheckEvent.kind).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
        return list(rows)


async def share_with_colleague(teams: Teams, clock: ManualClock, scheduler: Scheduler) -> tuple[uuid.UUID, dict]:
    """Sender shares with a colleague who has talked to the bot; the follow-up reaches the colleague."""
    await teams.runtime.leads.assign("teams", WORKSPACE, LEAD, "workspace", "", clock.now())
    await teams.hello(SENDER)
    await teams.hello(COLLEAGUE)
    await teams.hello(LEAD)
    check_id = await teams.complete({"recipient": "@" + COLLEAGUE})
    fu = await follow_up(teams.runtime, check_id)
    assert fu.kind == "recipient_confirm" and fu.target_id == COLLEAGUE and fu.workspace_id == WORKSPACE
    await scheduler.run_once()
    assert teams.sent_to(COLLEAGUE) == []  # not yet due
    clock.advance(CONFIRM_AFTER)
    await scheduler.run_once()
    [card] = teams.cards_to(COLLEAGUE)
    return check_id, card


# --- the loop --------------------------------------------------------------------------------


async def test_recipient_confirms_with_execute(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    check_id, card = await share_with_colleague(teams, clock, scheduler)
    text = text_of(card)
    assert "Please confirm: information shared with you" in text
    assert "A colleague shared information with you about case CS-2024-0113" in text
    assert "29:" not in text, "no raw ids in what people read"
    labels = [a["title"] for a in card["actions"]]
    assert labels == ["Received and understood", "Received, I need clarification", "Not received"]

    pending = await teams.say(COLLEAGUE, "pending")
    assert "CS-2024-0113: Please confirm: information shared with you: awaiting an answer" in text_of(pending)

    since = len(teams.connector.calls)
    result = await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="understood"))
    assert "Thank you: your answer is recorded for case CS-2024-0113" in text_of(result)
    assert not actions(result) and "actions" not in result, "the answered card has no buttons left"
    assert (await follow_up(runtime, check_id)).state == "confirmed"

    await scheduler.run_once()
    [notice] = teams.cards_to(SENDER, since)
    assert "A colleague confirmed that the information about case CS-2024-0113 arrived" in text_of(notice)
    assert not actions(notice)

    # pressed again (or on an old copy of the card): nothing changes, nothing is sent
    again = await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="not_received"))
    assert "already answered" in text_of(again)
    await scheduler.run_once()
    assert teams.cards_to(SENDER, since) == [notice] and teams.cards_to(LEAD) == []
    assert (await follow_up(runtime, check_id)).state == "confirmed"
    assert (await trail(runtime, check_id))[-3:] == ["follow_up_scheduled", "follow_up_asked", "follow_up_answered"]
    stored = await get_user(runtime.sessions, "teams", WORKSPACE, COLLEAGUE)
    assert stored is not None and stored.conversation_ref is not None
    assert "name" not in stored.conversation_ref["user"], "display names are not kept"


async def test_clarification_with_submit_needs_a_note_and_updates_the_card(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    check_id, card = await share_with_colleague(teams, clock, scheduler)
    [show] = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    assert show["title"] == "Received, I need clarification"
    [note_input] = [b for b in show["card"]["body"] if b["type"] == "Input.Text"]
    assert note_input["isRequired"] and note_input["label"].startswith("What is unclear?")
    send = find_action(card, "follow_up", sc_choice="clarification")
    card_id = teams.sent_to(COLLEAGUE)[-1].response_id
    assert card_id

    # an older client ignored isRequired: the note is asked for, nothing recorded yet
    asked = await teams.submit(COLLEAGUE, send, card_id)
    assert asked.kind == "update" and asked.activity_id == card_id
    assert "What is unclear?" in text_of(asked.cards()[-1])
    assert (await follow_up(runtime, check_id)).state == "awaiting"

    since = len(teams.connector.calls)
    note = "Which **school** does the {user:29:x} sibling attend?"
    done = await teams.submit(COLLEAGUE, send, card_id, {note_input["id"]: note})
    assert done.kind == "update" and done.activity_id == card_id, "the follow-up card is updated in place"
    assert not actions(done.cards()[-1])
    assert (await follow_up(runtime, check_id)).state == "clarification"
    await scheduler.run_once()
    [notice] = teams.cards_to(SENDER, since)
    shown = text_of(notice)
    assert "needs clarification" in shown and "Which **school** does the (user:29:x) sibling attend?" in shown
    assert all(b["type"] != "TextBlock" or "school" not in b["text"] for b in notice["body"]), "notes stay plain"


async def test_not_received_alerts_the_sender_and_the_lead(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    check_id, card = await share_with_colleague(teams, clock, scheduler)
    since = len(teams.connector.calls)
    result = await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="not_received"))
    assert "recorded" in text_of(result)
    await scheduler.run_once()
    alert, offer = teams.cards_to(SENDER, since)
    assert "has NOT arrived" in text_of(alert) and "Your safeguarding lead has been told" in text_of(alert)
    assert "professional disagreement" in text_of(offer)  # the local escalation route is offered
    [escalation] = teams.cards_to(LEAD, since)
    shown = text_of(escalation)
    assert "Safeguarding follow-up needs you: case CS-2024-0113" in shown
    assert "A colleague reports that the information about case CS-2024-0113, shared by another colleague" in shown
    assert "Trail: decided" in shown and "29:" not in shown
    assert "follow_up_escalated" in await trail(runtime, check_id)


async def test_unanswered_follow_ups_are_nudged_then_escalated(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    check_id, _ = await share_with_colleague(teams, clock, scheduler)  # asked Tue 14:00
    for _ in range(4 * 24):
        clock.advance(timedelta(hours=1))
        await scheduler.run_once()
    reminders = [c for c in teams.cards_to(COLLEAGUE) if "Reminder: Please confirm" in text_of(c)]
    assert len(reminders) == 2  # Wed and Thu 14:00; the escalation on Fri 10:00 stops the nudging
    assert all(find_action(c, "follow_up", sc_choice="understood") for c in reminders)
    [escalation] = teams.cards_to(LEAD)
    assert "still no confirmation" in text_of(escalation)
    fu = await follow_up(runtime, check_id)
    assert fu.state == "escalated" and fu.escalated_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    # a late answer from the last reminder is still recorded
    result = await teams.execute(COLLEAGUE, find_action(reminders[-1], "follow_up", sc_choice="understood"))
    assert "Thank you" in text_of(result)
    assert (await follow_up(runtime, check_id)).state == "confirmed"


async def test_recipient_outside_the_workspace_means_the_sender_is_asked(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await teams.hello(SENDER)
    check_id = await teams.complete()  # the recipient is a role at another organisation
    fu = await follow_up(runtime, check_id)
    assert fu.kind == "sender_confirm" and fu.target_id == SENDER
    clock.advance(CONFIRM_AFTER)
    await scheduler.run_once()
    [card] = teams.cards_to(SENDER)
    assert "You shared information about case CS-2024-0113 with MASH detective sergeant, Northshire Police" in (
        text_of(card)
    )
    # 'confirmed' takes an optional note: its form's text box is not required
    [show] = [a for a in card["actions"] if a["type"] == "Action.ShowCard"]
    assert show["title"] == "Yes, confirmed with them" and not show["card"]["body"][0]["isRequired"]
    remind = await teams.execute(SENDER, find_action(card, "follow_up", sc_choice="remind_me"))
    assert "ask again" in text_of(remind)
    clock.advance(timedelta(hours=24))
    await scheduler.run_once()
    cards = teams.cards_to(SENDER)
    assert len(cards) == 2 and "Reminder: " in text_of(cards[-1])
    send = find_action(cards[-1], "follow_up", sc_choice="confirmed")
    result = await teams.execute(SENDER, send, {"sc_note_confirmed": "Phone call with the duty worker"})
    assert "receipt and understanding confirmed" in text_of(result)
    async with runtime.sessions() as s:
        event = await s.scalar(
            select(CheckEvent).where(CheckEvent.kind == "follow_up_answered").order_by(CheckEvent.seq.desc())
        )
    assert event is not None and event.data == {
        "follow_up": str(fu.id),
        "answer": "confirmed",
        "note": "Phone call with the duty worker",
    }


async def test_not_sharing_after_a_request_reminds_to_tell_the_requester(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await teams.hello(SENDER)
    check_id = await teams.complete(
        {"request_context": "asked", "decision": "not_share", "requester_told": "will_tell"}
    )
    assert (await follow_up(runtime, check_id)).kind == "tell_requester"
    clock.advance(CONFIRM_AFTER)
    await scheduler.run_once()
    [card] = teams.cards_to(SENDER)
    assert "Tell the requester you are not sharing" in text_of(card)
    result = await teams.execute(SENDER, find_action(card, "follow_up", sc_choice="told"))
    assert "the requester has been told for case CS-2024-0113" in text_of(result)
    assert (await follow_up(runtime, check_id)).state == "told"


# --- platform faults -------------------------------------------------------------------------


async def _outbox(runtime: Runtime) -> list[OutboxMessage]:
    async with runtime.sessions() as s:
        return list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


async def test_throttling_and_server_errors_lose_and_duplicate_nothing(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler, connector: FakeConnector
) -> None:
    await runtime.leads.assign("teams", WORKSPACE, LEAD, "workspace", "", clock.now())
    for user in (SENDER, COLLEAGUE, LEAD):
        await teams.hello(user)
    check_id = await teams.complete({"recipient": "@" + COLLEAGUE})
    clock.advance(CONFIRM_AFTER)

    connector.fail_next(429, retry_after=120)
    stats = await scheduler.run_once()
    assert stats.retried == 1 and teams.sent_to(COLLEAGUE) == []
    [queued] = await _outbox(runtime)
    assert queued.status == "queued" and queued.due_at >= clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(seconds=60))
    await scheduler.run_once()
    assert teams.sent_to(COLLEAGUE) == [], "Retry-After is honoured"

    connector.fail_next(503, times=2)
    connector.fail_next(502)
    for _ in range(10):
        clock.advance(timedelta(minutes=2))
        await scheduler.run_once()
    [card] = teams.cards_to(COLLEAGUE)
    attempts = [c for c in connector.calls if c.conversation_id == dm(COLLEAGUE) and c.kind == "send"]
    assert [c.status for c in attempts] == [429, 503, 503, 502, 201]
    [sent] = await _outbox(runtime)
    assert sent.status == "sent" and sent.attempts == 5 and sent.delivery_ref["activity_id"] == attempts[-1].response_id

    # the answer's notices go out once each, through a burst of failures on the way
    await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="not_received"))
    connector.fail_next(500, times=3)
    for _ in range(10):
        clock.advance(timedelta(minutes=2))
        await scheduler.run_once()
    # the alert and the offer of the professional-disagreement route; the lead's escalation
    assert len(teams.cards_to(SENDER)) == 2 and len(teams.cards_to(LEAD)) == 1
    assert {m.status for m in await _outbox(runtime)} == {"sent"}
    assert (await follow_up(runtime, check_id)).state == "not_received"


async def test_a_colleague_who_never_talked_to_the_bot_is_undeliverable_and_the_sender_is_told(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await teams.hello(SENDER)
    check_id = await teams.complete({"recipient": "@29:1never-met-the-bot"})
    clock.advance(CONFIRM_AFTER)
    await scheduler.run_once()
    await scheduler.run_once()
    # the notice and the question go out in the same pass, concurrently: found by what they say, not by order
    cards = [text_of(c) for c in teams.cards_to(SENDER)]
    assert len(cards) == 2
    assert any("ShareCheck could not reach a colleague about case CS-2024-0113" in c for c in cards)
    assert any("Have you confirmed with them" in c for c in cards)  # so they can record how they confirmed it
    fu = await follow_up(runtime, check_id)
    assert fu.state == "undeliverable"
    outbox = await _outbox(runtime)
    assert outbox[0].status == "failed" and outbox[0].last_error == "never talked to the bot"


async def test_a_bot_removed_or_blocked_403_is_undeliverable(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler, connector: FakeConnector
) -> None:
    await teams.hello(SENDER)
    await teams.hello(COLLEAGUE)
    check_id = await teams.complete({"recipient": "@" + COLLEAGUE})
    clock.advance(CONFIRM_AFTER)
    connector.fail_next(403)
    stats = await scheduler.run_once()
    assert stats.failed == 1
    await scheduler.run_once()
    assert (await follow_up(runtime, check_id)).state == "undeliverable"
    cards = [text_of(c) for c in teams.cards_to(SENDER)]
    assert len(cards) == 2 and any("could not reach a colleague" in c for c in cards)
    assert "follow_up_undeliverable" in await trail(runtime, check_id)


async def test_working_hours_follow_the_stored_local_timezone(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await teams.hello(SENDER)
    await teams.hello(COLLEAGUE, tz="Pacific/Auckland")  # UTC+13 in November
    check_id = await teams.complete({"recipient": "@" + COLLEAGUE})  # Tue 10:00 UTC
    # due Tue 14:00 UTC = Wed 03:00 in Auckland: it waits for Wed 08:00 there, Tue 19:00 UTC
    assert (await follow_up(runtime, check_id)).due_at == datetime(2026, 11, 24, 19, tzinfo=UTC)
    clock.advance(CONFIRM_AFTER)
    await scheduler.run_once()
    assert teams.sent_to(COLLEAGUE) == []
    clock.advance(timedelta(hours=5))
    await scheduler.run_once()
    assert len(teams.cards_to(COLLEAGUE)) == 1


async def test_another_user_cannot_answer_a_follow_up(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler, connector: FakeConnector
) -> None:
    check_id, card = await share_with_colleague(teams, clock, scheduler)
    act = find_action(card, "follow_up", sc_choice="not_received")
    # another user of the same tenant (emulator mode has one tenant: the same user id in another tenant is
    # refused where tenants are real, with Bot Framework tokens: tests/adapters/test_teams_auth.py)
    body = press(act, {}, teams.connector.url, None, user=SENDER, conversation=dm(SENDER))
    answer = await (await teams.client.post("/api/messages", json=body)).json()
    # answered with a message: the card pressed stays as it was
    assert answer["type"] == MESSAGE and "not one ShareCheck can find for you" in answer["value"]
    assert (await follow_up(runtime, check_id)).state == "awaiting"
    await scheduler.run_once()
    assert teams.cards_to(LEAD) == []


# --- digests -----------------------------------------------------------------------------------


async def test_digest_for_a_lead_and_a_polite_no_for_others(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    _, card = await share_with_colleague(teams, clock, scheduler)
    await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="not_received"))
    refused = await teams.say(SENDER, "digest")
    assert "Digests are for safeguarding leads" in text_of(refused)

    clock.advance(timedelta(days=6))  # Monday 16:00: last week's period is complete
    digest = await teams.say(LEAD, "digest")
    shown = text_of(digest)
    assert "Information sharing in your team" in shown
    assert "Needs you now" in shown and "CS-2024-0113: " in shown and "NOT arrived" in shown
    assert "Checks completed" in shown


async def test_the_scheduled_digest_reaches_the_lead(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await runtime.leads.assign("teams", WORKSPACE, LEAD, "workspace", "", clock.now())
    await teams.hello(LEAD)
    await teams.hello(SENDER)
    await teams.complete()
    clock.advance(datetime(2026, 11, 30, 9, 5, tzinfo=UTC) - clock.now())  # Monday 09:05 London
    await scheduler.run_once()
    digests = [c for c in teams.cards_to(LEAD) if "Information sharing in your team" in text_of(c)]
    assert len(digests) == 1 and "Checks completed" in text_of(digests[0])
    await scheduler.run_once()
    assert len([c for c in teams.cards_to(LEAD) if "Information sharing in your team" in text_of(c)]) == 1


# --- admin commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, 7.0, RetryLater("throttled (429)", after=7.0)),
        (500, None, RetryLater("connector error (500)")),
        (503, None, RetryLater("connector error (503)")),
        (401, None, RetryLater("connector refused our credentials (401)")),
        (403, None, Undeliverable("bot removed or blocked, or conversation gone (403)")),
        (404, None, Undeliverable("bot removed or blocked, or conversation gone (404)")),
        (400, None, Refused("ShareCheck sent a request the connector refused (400)")),
        (413, None, Refused("ShareCheck sent a request the connector refused (413)")),
    ],
)
async def test_connector_answers_map_to_delivery_results(
    teams: Teams, runtime: Runtime, connector: FakeConnector, status: int, retry_after: float | None, expected: object
) -> None:
    await teams.hello(COLLEAGUE)
    connector.fail_next(status, retry_after=retry_after)
    result = await TeamsDeliverer(runtime).deliver(WORKSPACE, COLLEAGUE, Info(title="Did CS-1 arrive?"))
    assert result == expected


async def test_proactive_messages_carry_no_nulls(teams: Teams, runtime: Runtime, connector: FakeConnector) -> None:
    """SDK 1.9 sends a new message with "id": null (and "locale": null without a stored locale): the Playground,
    like the fake, answers 400 BadArgument. What ShareCheck sends must pass."""
    act = activity(connector.url, text="help", user=COLLEAGUE, conversation=dm(COLLEAGUE))
    del act["locale"]
    assert (await teams.client.post("/api/messages", json=act)).status == 202
    stored = await get_user(runtime.sessions, "teams", WORKSPACE, COLLEAGUE)
    assert stored is not None and stored.conversation_ref is not None and "locale" not in stored.conversation_ref
    since = len(connector.calls)
    result = await TeamsDeliverer(runtime).deliver(WORKSPACE, COLLEAGUE, Info(title="Did CS-1 arrive?"))
    assert isinstance(result, Delivered)
    [call] = connector.calls[since:]
    assert call.kind == "send" and call.status == 201
    assert "id" not in call.body and "locale" not in call.body and "null" not in json.dumps(call.body)


async def test_a_connector_refusing_our_requests_is_our_fault_and_never_silent(
    teams: Teams,
    runtime: Runtime,
    clock: ManualClock,
    scheduler: Scheduler,
    connector: FakeConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await runtime.leads.assign("teams", WORKSPACE, LEAD, "workspace", "", clock.now())
    for user in (SENDER, COLLEAGUE, LEAD):
        await teams.hello(user)
    check_id = await teams.complete({"recipient": "@" + COLLEAGUE})
    clock.advance(CONFIRM_AFTER)
    # every card to the colleague and to the sender is refused as malformed (as the Playground did); the lead's is not
    connector.fail_next(400, times=3, conversation=dm(COLLEAGUE))
    connector.fail_next(400, times=6, conversation=dm(SENDER))
    await scheduler.run_once()
    assert (await follow_up(runtime, check_id)).state == "awaiting", "not closed after one try"
    for _ in range(12):
        clock.advance(timedelta(minutes=5))
        await scheduler.run_once()
    assert [c.status for c in connector.calls if c.kind == "send" and c.status == 400] == [400] * 9
    assert teams.sent_to(COLLEAGUE) == [] and teams.sent_to(SENDER) == []
    # the trail says what happened and whose fault it was
    kinds = await trail(runtime, check_id)
    assert kinds.count("delivery_refused") == 9 and kinds.count("follow_up_undeliverable") == 2
    async with runtime.sessions() as s:
        closed = list(await s.scalars(select(CheckEvent).where(CheckEvent.kind == "follow_up_undeliverable")))
    assert all(e.data["fault"] == "sharecheck" for e in closed)
    assert "ShareCheck sent a malformed request (connector answered 400)" in caplog.text
    assert "recipient undeliverable" not in caplog.text
    # the sender's own chat is failing too: the lead hears of it in theirs
    [escalation] = teams.cards_to(LEAD)
    assert "Safeguarding follow-up needs you: case CS-2024-0113" in text_of(escalation)
    # and the sender sees it in pending (a reply to their message, which still works)
    pending = text_of(await teams.say(SENDER, "pending"))
    assert "CS-2024-0113: Did it arrive, and was it understood?: ShareCheck could not send it to you" in pending


async def test_a_slow_connector_is_a_timeout_to_retry(teams: Teams, runtime: Runtime, connector: FakeConnector) -> None:
    await teams.hello(COLLEAGUE)
    connector.latency = 0.3
    result = await TeamsDeliverer(runtime, timeout=0.05).deliver(WORKSPACE, COLLEAGUE, Info(title="Did CS-1 arrive?"))
    assert isinstance(result, RetryLater) and "TimeoutError" in result.reason
    connector.latency = 0.0
    ok = await TeamsDeliverer(runtime).deliver(WORKSPACE, COLLEAGUE, Info(title="Did CS-1 arrive?"))
    assert isinstance(ok, Delivered) and ok.ref["conversation_id"] == dm(COLLEAGUE)


async def test_no_stored_reference_is_undeliverable(runtime: Runtime) -> None:
    result = await TeamsDeliverer(runtime).deliver(WORKSPACE, "29:1stranger", Info(title="x"))
    assert result == Undeliverable("never talked to the bot")


async def test_admin_sets_a_lead_for_a_team_and_checks_started_there_carry_it(
    teams: Teams, runtime: Runtime, clock: ManualClock, connector: FakeConnector
) -> None:
    await make_admin(runtime, clock)
    team = "19:team-general@thread.tacv2"
    in_channel = {
        "conversation": f"{team};messageid=1",
        "conversation_type": "channel",
        "channelData": {"tenant": {"id": TENANT}, "team": {"id": team}, "channel": {"id": team}},
    }
    bot_mention = {"type": "mention", "text": "<at>ShareCheck</at>", "mentioned": {"id": BOT, "name": "ShareCheck"}}
    admin = activity(
        connector.url,
        text="<at>ShareCheck</at> admin lead add <at>Lead</at> team",
        user=ADMIN,
        entities=[bot_mention, mention(LEAD, "Lead")],
        **in_channel,
    )
    assert (await teams.client.post("/api/messages", json=admin)).status == 202
    assert "checks started from this team" in text_of(connector.cards()[-1])
    start = activity(connector.url, text="<at>ShareCheck</at> share-check", entities=[bot_mention], **in_channel)
    assert (await teams.client.post("/api/messages", json=start)).status == 202
    async with runtime.sessions() as s:
        [check] = list(await s.scalars(select(Check)))
        assert check.channel_id == team
        assert await runtime.leads.lead_for(s, "teams", WORKSPACE, SENDER, channel_id=team) == LEAD


# --- seeking advice, and professional disagreement ---------------------------------------------------


async def test_ask_my_lead_now_and_resume_with_the_advice(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await runtime.leads.assign("teams", WORKSPACE, LEAD, "workspace", "", clock.now())
    await teams.hello(SENDER)
    await teams.hello(LEAD)
    sender = teams.sender
    card = await sender.answer_step(await sender.say("share-check"), "start")
    card = await sender.answer_step(card, "gates", script={"purpose": "unsure"})
    assert step_of(card) == "advice_purpose"
    card = await sender.click(find_action(card, "answer", sc_choice="ask_lead"))
    # the check waits at the question, saying so; the urgent exit stays
    assert step_of(card) == "gates" and "I have asked your safeguarding lead for advice" in text_of(card)
    assert find_action(card, "urgent")

    await scheduler.run_once()
    [request] = teams.cards_to(LEAD)
    assert "Advice needed now: case CS-2024-0113" in text_of(request)
    assert "A colleague is doing a ShareCheck and asks for your advice" in text_of(request)
    assert "Is there a clear safeguarding purpose, and a risk of harm if you do not share?" in text_of(request)
    since = len(teams.connector.calls)
    send = find_action(request, "follow_up", sc_choice="dont_share")
    result = await teams.execute(LEAD, send, {"sc_note_dont_share": "Not on what we know: ring me first"})
    assert "Thank you" in text_of(result) and not actions(result)

    await scheduler.run_once()
    [advice] = teams.cards_to(SENDER, since)
    assert "Advice from your safeguarding lead: case CS-2024-0113" in text_of(advice)
    assert (
        "Your safeguarding lead advised on case CS-2024-0113: Do not share. “Not on what we know: ring me first”"
        in (text_of(advice))
    )
    # the practitioner carries on from the question; the record keeps the advice
    assert inputs(card)["sc_fc_purpose"]["value"] == "unsure", "the form as it was answered"
    card, _ = await sender.walk(card, {"purpose": "yes"})
    assert "Advice from the safeguarding lead" in text_of(card) and "Do not share" in text_of(card)
    async with runtime.sessions() as s:
        check_id = await s.scalar(select(Check.id))
    assert check_id is not None
    kinds = await trail(runtime, check_id)
    assert kinds.index("advice_requested") < kinds.index("advice_given") < kinds.index("completed")


async def test_not_received_leads_through_the_disagreement_stages(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    check_id, card = await share_with_colleague(teams, clock, scheduler)
    before = len(teams.connector.calls)
    await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="not_received"))
    await scheduler.run_once()
    # a pass delivers its messages concurrently: the offer is whichever new card to the sender carries it
    new_cards = teams.cards_to(SENDER, before)
    [offer] = [c for c in new_cards if any(a.get("data", {}).get("sc_choice") == "start" for a in actions(c))]
    started = await teams.execute(SENDER, find_action(offer, "follow_up", sc_choice="start"))
    assert "Stage 1 started for case CS-2024-0113, due by" in text_of(started)
    told = len(teams.cards_to(LEAD))
    since = len(teams.connector.calls)
    clock.advance(timedelta(days=2))
    await scheduler.run_once()
    [stage] = teams.cards_to(SENDER, since)
    assert "Professional disagreement, case CS-2024-0113: Stage 1" in text_of(stage)
    moved = await teams.execute(SENDER, find_action(stage, "follow_up", sc_choice="next_stage"))
    assert "Stage 2 started" in text_of(moved)
    await scheduler.run_once()
    [to_lead] = teams.cards_to(LEAD)[told:]
    assert "A colleague has moved a professional disagreement about case CS-2024-0113 to Stage 2" in text_of(to_lead)
    assert (await trail(runtime, check_id)).count("disagreement_stage") == 2


async def test_disagree_with_the_recipients_response_by_typing(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    _, card = await share_with_colleague(teams, clock, scheduler)
    since = len(teams.connector.calls)
    await teams.execute(COLLEAGUE, find_action(card, "follow_up", sc_choice="understood"))
    await scheduler.run_once()
    [notice] = teams.cards_to(SENDER, since)
    assert "Typing “disagree CS-2024-0113” to ShareCheck starts the local professional disagreement route" in (
        text_of(notice)
    )
    started = await teams.say(SENDER, "disagree CS-2024-0113")
    assert "Stage 1 started for case CS-2024-0113" in text_of(started)
    again = await teams.say(SENDER, "Disagree CS-2024-0113.")
    assert "already at Stage 1" in text_of(again)
    usage = await teams.say(SENDER, "disagree")
    assert "Type **share-check disagree** and the case reference" in text_of(usage)
    stranger = await teams.say(COLLEAGUE, "disagree CS-2024-0113")
    assert "no share with a follow-up for that case" in text_of(stranger)
    help_card = await teams.say(SENDER, "help")
    assert "disagree CASE-REF" in text_of(help_card)


# --- the urgent path -----------------------------------------------------------------------------


async def test_the_urgent_reminder_to_confirm_in_writing_is_one_click_on_a_card(
    teams: Teams, runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await teams.hello(SENDER)
    check_id, _ = await finish_urgent_check(runtime, Actor("teams", WORKSPACE, SENDER))
    clock.advance(CONFIRM_AFTER)
    await scheduler.run_once()
    [card] = [c for c in teams.cards_to(SENDER) if "Confirm the urgent referral in writing" in text_of(c)]
    assert "by Thu 26 Nov 2026 10:00" in text_of(card)
    titles = [a["title"] for a in card["actions"]]
    assert titles == ["Done: confirmed in writing", "Not needed", "Not yet: remind me"]
    send = find_action(card, "follow_up", sc_choice="in_writing")
    result = await teams.execute(SENDER, send, {"sc_note_in_writing": "Referral form to the MASH"})
    assert "the urgent referral about case CS-2024-0113 is confirmed in writing" in text_of(result)
    assert not actions(result)
    async with runtime.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.kind == "written_confirmation"))
        event = await s.scalar(
            select(CheckEvent).where(CheckEvent.kind == "follow_up_answered").order_by(CheckEvent.seq.desc())
        )
    assert fu is not None and fu.check_id == check_id and fu.state == "confirmed_in_writing"
    assert event is not None and event.data == {
        "follow_up": str(fu.id),
        "answer": "in_writing",
        "note": "Referral form to the MASH",
    }
