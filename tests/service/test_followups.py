"""'Received and understood': asking, nudging, escalating, answering, working hours, platform faults."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import CheckEvent, FollowUp, OutboxMessage
from bot.delivery import Refused, RetryLater, Undeliverable
from bot.followups.content import followup_content
from bot.followups.flows import ESCALATING_KINDS, TABLE
from bot.followups.messaging import ESCALATION_BODY, FollowUpMessaging, Notice
from bot.followups.models import (
    CLOSED_STATES,
    OPEN_STATES,
    FollowUpNotFound,
    Kind,
    NoteRequired,
    ReceiptAnswer,
    State,
    Verb,
)
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.users import remember_user
from bot.settings import Settings
from dialogs.messages import FollowUpPrompt, Info
from dialogs.state import Recipient
from tests.support.checks import finish_urgent_check
from tests.support.deliverers import RecordingDeliverer
from tests.support.followups import LEAD, RECIPIENT, SENDER, complete, seed_due_follow_ups, share_with_colleague
from tests.support.settings import make_settings


async def follow_up_of(runtime: Runtime, check_id: uuid.UUID) -> FollowUp:
    async with runtime.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.check_id == check_id).order_by(FollowUp.created_at))
        assert fu is not None
        return fu


async def follow_ups_of(runtime: Runtime, check_id: uuid.UUID) -> list[FollowUp]:
    async with runtime.sessions() as s:
        return list(
            await s.scalars(select(FollowUp).where(FollowUp.check_id == check_id).order_by(FollowUp.created_at))
        )


async def trail(runtime: Runtime, check_id: uuid.UUID) -> list[str]:
    async with runtime.sessions() as s:
        return list(
            await s.scalars(select(CheckEvent.kind).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
        )


@pytest.fixture
def platform() -> RecordingDeliverer:
    return RecordingDeliverer()


@pytest.fixture
def scheduler(runtime: Runtime, platform: RecordingDeliverer) -> Scheduler:
    return Scheduler(runtime, {"slack": platform}, instance_id="test-1")


async def test_recipient_is_asked_after_the_delay_and_confirms(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await share_with_colleague(runtime)
    fu = await follow_up_of(runtime, check_id)
    assert fu.kind == "recipient_confirm" and fu.target_id == RECIPIENT.user_id and fu.state == "scheduled"
    assert fu.due_at == clock.now() + timedelta(hours=4)

    await scheduler.run_once()
    assert platform.sent == []  # not yet due
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    [ask] = platform.to(RECIPIENT.user_id)
    assert isinstance(ask, FollowUpPrompt)
    assert [c.label for c in ask.choices] == [
        "Received and understood",
        "Received, I need clarification",
        "Not received",
    ]
    assert "{user:USENDER} shared information with you about case CS-2024-0113" in ask.lines[0]
    assert "Secure or encrypted email" in ask.lines[0] or "by " in ask.lines[0]

    result = await runtime.followups.answer(RECIPIENT, fu.id, "understood")
    assert result.changed
    await scheduler.run_once()
    [notice] = platform.to(SENDER.user_id)
    assert isinstance(notice, Info) and "confirmed" in notice.lines[0]

    again = await runtime.followups.answer(RECIPIENT, fu.id, "understood")
    assert not again.changed and "already answered" in again.reply.lines[0]
    # confirmed: no nudge, no escalation, ever
    platform.clear()
    for _ in range(5):
        clock.advance(timedelta(days=1))
        await scheduler.run_once()
    assert platform.sent == []
    assert (await follow_up_of(runtime, check_id)).state == "confirmed"
    kinds = await trail(runtime, check_id)
    assert kinds[-4:] == ["completed", "follow_up_scheduled", "follow_up_asked", "follow_up_answered"]


async def test_clarification_needs_a_note_and_reaches_the_sender(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await share_with_colleague(runtime)
    fu = await follow_up_of(runtime, check_id)
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    with pytest.raises(NoteRequired, match="What is unclear"):
        await runtime.followups.answer(RECIPIENT, fu.id, "clarification")
    await runtime.followups.answer(
        RECIPIENT, fu.id, "clarification", "Which {user:UX} school does the <b>sibling</b> attend?"
    )
    await scheduler.run_once()
    [notice] = platform.to(SENDER.user_id)
    assert isinstance(notice, Info)
    assert "needs clarification" in notice.lines[0]
    assert "(user:UX)" in notice.lines[0], "typed notes cannot forge mentions"
    assert (await follow_up_of(runtime, check_id)).state == "clarification"


async def test_not_received_alerts_the_sender_and_the_lead_at_once(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await share_with_colleague(runtime)
    fu = await follow_up_of(runtime, check_id)
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    await runtime.followups.answer(RECIPIENT, fu.id, "not_received")
    await scheduler.run_once()
    alert, offer = platform.to(SENDER.user_id)
    assert isinstance(alert, Info) and "NOT arrived" in alert.lines[0]
    assert isinstance(offer, FollowUpPrompt) and "professional disagreement" in offer.title
    [escalation] = platform.to(LEAD)
    assert isinstance(escalation, Info) and "CS-2024-0113" in escalation.title
    assert "NOT arrived" in escalation.lines[0]
    assert "asked" in escalation.lines[1]  # the trail
    assert "follow_up_escalated" in await trail(runtime, check_id)


async def test_unanswered_follow_ups_are_nudged_then_escalated(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await share_with_colleague(runtime)  # Tue 10:00
    for _ in range(4 * 24):
        clock.advance(timedelta(hours=1))
        await scheduler.run_once()
    to_recipient = platform.to(RECIPIENT.user_id)
    assert isinstance(to_recipient[0], FollowUpPrompt) and not to_recipient[0].title.startswith("Reminder")
    reminders = [m for m in to_recipient if m.title.startswith("Reminder")]
    assert len(reminders) == 2  # Wed 14:00 and Thu 14:00; escalation at Fri 10:00 stops the nudging
    [escalation] = platform.to(LEAD)
    assert isinstance(escalation, Info) and "still no confirmation" in escalation.lines[0]
    fu = await follow_up_of(runtime, check_id)
    assert fu.state == "escalated" and fu.escalated_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    # a late answer is still taken
    assert (await runtime.followups.answer(RECIPIENT, fu.id, "understood")).changed


async def test_recipient_outside_the_workspace_means_the_sender_is_asked(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await runtime.leads.assign("slack", "T1", LEAD, "user", SENDER.user_id, clock.now())
    check_id = await complete(runtime, SENDER, {"decision": "share"})  # recipient: an organisation and role
    fu = await follow_up_of(runtime, check_id)
    assert fu.kind == "sender_confirm" and fu.target_id == SENDER.user_id
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    [ask] = platform.to(SENDER.user_id)
    assert isinstance(ask, FollowUpPrompt)
    assert [c.id for c in ask.choices] == ["confirmed", "remind_me", "could_not_confirm"]
    assert "MASH detective sergeant, Northshire Police" in ask.lines[0]

    remind = await runtime.followups.answer(SENDER, fu.id, "remind_me")
    assert "ask again" in remind.reply.lines[0]
    clock.advance(timedelta(hours=24))
    await scheduler.run_once()
    assert len([m for m in platform.to(SENDER.user_id) if isinstance(m, FollowUpPrompt)]) == 2
    await runtime.followups.answer(SENDER, fu.id, "could_not_confirm")
    await scheduler.run_once()
    [escalation] = platform.to(LEAD)
    assert isinstance(escalation, Info) and "could not confirm" in escalation.lines[0]


async def test_sender_confirmation_takes_an_optional_note(runtime: Runtime, clock: ManualClock) -> None:
    check_id = await complete(runtime, SENDER, {"decision": "share"})
    fu = await follow_up_of(runtime, check_id)
    result = await runtime.followups.answer(SENDER, fu.id, "confirmed", "Phone call with the duty worker")
    assert result.changed and "confirmed" in result.reply.lines[0]
    async with runtime.sessions() as s:
        event = await s.scalar(select(CheckEvent).where(CheckEvent.kind == "follow_up_answered"))
        assert event is not None and event.data["note"] == "Phone call with the duty worker"


async def test_not_sharing_after_a_request_reminds_to_tell_the_requester(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await complete(
        runtime, SENDER, {"request_context": "asked", "decision": "not_share", "requester_told": "will_tell"}
    )
    fu = await follow_up_of(runtime, check_id)
    assert fu.kind == "tell_requester"
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    [ask] = platform.to(SENDER.user_id)
    assert isinstance(ask, FollowUpPrompt) and "Tell the requester" in ask.title
    result = await runtime.followups.answer(SENDER, fu.id, "told")
    assert "requester has been told" in result.reply.lines[0]
    assert (await follow_up_of(runtime, check_id)).state == "told"


async def test_already_told_requester_needs_no_reminder(runtime: Runtime) -> None:
    check_id = await complete(
        runtime, SENDER, {"request_context": "asked", "decision": "not_share", "requester_told": "told"}
    )
    async with runtime.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.check_id == check_id)) == 0


async def test_console_follow_ups_wait_in_the_inbox_and_are_never_pushed(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer
) -> None:
    me = Actor("console", "local", "me")
    check_id = await complete(runtime, me, {"decision": "share"})
    fu = await follow_up_of(runtime, check_id)
    assert fu.kind == "sender_confirm"
    clock.advance(timedelta(hours=5))
    # even a scheduler with something registered for the console leaves its messages to the inbox
    await Scheduler(runtime, {"console": platform, "slack": platform}).run_once()
    assert platform.sent == []
    async with runtime.sessions() as s:
        queued = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.platform == "console")))
    assert [m.status for m in queued] == ["queued"]
    [asked] = runtime.followups.open_prompts(await runtime.followups.asked_of(me))
    assert asked.title == "Did it arrive, and was it understood?"
    assert await runtime.inbox.collect(me) == [], "the question is listed fresh, not replayed as a notice"
    await runtime.followups.answer(me, fu.id, "could_not_confirm")
    [no_lead] = await runtime.inbox.collect(me)
    assert isinstance(no_lead, Info) and "No safeguarding lead is configured" in no_lead.lines[-1]
    assert await runtime.inbox.collect(me) == [], "each notice is handed over once"
    assert await runtime.followups.asked_of(me) == []


async def test_only_the_person_asked_can_answer(runtime: Runtime) -> None:
    check_id = await share_with_colleague(runtime)
    fu = await follow_up_of(runtime, check_id)
    for intruder in (SENDER, Actor("slack", "T2", RECIPIENT.user_id), Actor("teams", "T1", RECIPIENT.user_id)):
        with pytest.raises(FollowUpNotFound):
            await runtime.followups.answer(intruder, fu.id, "understood")
    with pytest.raises(ValueError, match="not one of the answers"):
        await runtime.followups.answer(RECIPIENT, fu.id, "told")


async def test_pending_lists_follow_ups_for_both_sides(
    runtime: Runtime, clock: ManualClock, scheduler: Scheduler
) -> None:
    await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    mine = await runtime.checks.pending(RECIPIENT)
    assert [i.kind for i in mine.items] == ["follow_up"]
    assert "you are asked to confirm" in mine.items[0].status
    theirs = await runtime.checks.pending(SENDER)
    assert "waiting for the recipient" in theirs.items[0].status
    assert (await runtime.checks.pending(Actor("slack", "T2", "URECIP"))).items == ()


async def test_pending_says_when_a_question_has_not_gone_out_yet(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    platform.fail_next(RECIPIENT.user_id, RetryLater("http 503"))
    await scheduler.run_once()
    [item] = (await runtime.checks.pending(SENDER)).items
    assert "not delivered yet, ShareCheck is retrying (waiting for the recipient" in item.status
    clock.advance(timedelta(minutes=5))
    await scheduler.run_once()
    [item] = (await runtime.checks.pending(SENDER)).items
    assert "awaiting an answer (waiting for the recipient" in item.status


# --- working hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finished", "tz", "expected"),
    [
        # Friday 17:00 London + 4 h = 21:00: waits for Monday 08:00
        (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), None, datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        # a recipient in New York: Friday 22:00 UTC + 4 h is 21:00 there; Monday 08:00 there is 13:00 UTC
        (datetime(2026, 11, 27, 22, 0, tzinfo=UTC), "America/New_York", datetime(2026, 11, 30, 13, 0, tzinfo=UTC)),
        # across the end of British Summer Time (25 Oct 2026): Friday 17:00 BST + 4 h, Monday 08:00 GMT
        (datetime(2026, 10, 23, 16, 0, tzinfo=UTC), None, datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),
        # within hours: no deferral
        (datetime(2026, 11, 24, 9, 0, tzinfo=UTC), None, datetime(2026, 11, 24, 13, 0, tzinfo=UTC)),
    ],
)
async def test_follow_ups_wait_for_working_hours_in_the_recipients_zone(
    runtime: Runtime, clock: ManualClock, finished: datetime, tz: str | None, expected: datetime
) -> None:
    if tz:
        await remember_user(runtime.transactions, "slack", "T1", RECIPIENT.user_id, clock.now(), tz=tz)
    clock.set(finished)
    check_id = await complete(runtime, SENDER, {"decision": "share", "recipient": Recipient(user_id=RECIPIENT.user_id)})
    assert (await follow_up_of(runtime, check_id)).due_at == expected


async def test_always_means_no_deferral(db_url: str, clock: ManualClock) -> None:
    rt = await Runtime.create(make_settings(db_url, sharecheck_working_hours="always"), clock=clock, migrate=True)
    try:
        clock.set(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Saturday night
        check_id = await complete(rt, SENDER, {"decision": "share", "recipient": Recipient(user_id="UR")})
        assert (await follow_up_of(rt, check_id)).due_at == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    finally:
        await rt.close()


# --- platform faults ---------------------------------------------------------------------


async def test_rate_limit_honours_retry_after_and_nothing_is_duplicated(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    platform.fail_next(
        RECIPIENT.user_id, RetryLater("ratelimited", after=30), RetryLater("http 503"), RetryLater("timeout")
    )
    stats = await scheduler.run_once()
    assert stats.retried == 1 and platform.sent == []
    clock.advance(timedelta(seconds=29))
    assert (await scheduler.run_once()).claimed == 0  # Retry-After is honoured
    for _ in range(10):
        clock.advance(timedelta(seconds=60))
        await scheduler.run_once()
    assert len(platform.to(RECIPIENT.user_id)) == 1
    async with runtime.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.user_id == RECIPIENT.user_id))
        assert row is not None and row.status == "sent" and row.attempts == 4


async def test_a_recipient_who_left_is_marked_undeliverable_and_the_sender_told_and_asked(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    platform.fail_next(RECIPIENT.user_id, Undeliverable("account_inactive"))
    await scheduler.run_once()
    await scheduler.run_once()
    origin, instead = await follow_ups_of(runtime, check_id)
    assert origin.state == "undeliverable"
    # the notice and the question go out in the same pass, concurrently: told apart by kind, not by order
    [notice] = [m for m in platform.to(SENDER.user_id) if isinstance(m, Info)]
    [asked] = [m for m in platform.to(SENDER.user_id) if isinstance(m, FollowUpPrompt)]
    assert isinstance(notice, Info) and "could not reach" in notice.lines[0]
    assert "they may have left the workspace" in notice.lines[0]
    # the sender can record how they confirmed receipt another way, and pending shows it until they do
    assert instead.kind == "sender_confirm" and instead.target_id == SENDER.user_id and instead.state == "awaiting"
    assert isinstance(asked, FollowUpPrompt) and asked.follow_up_id == str(instead.id)
    [item] = (await runtime.checks.pending(SENDER)).items
    assert "ShareCheck could not reach the recipient, so you are asked; awaiting an answer" in item.status
    assert "follow_up_undeliverable" in await trail(runtime, check_id)
    await runtime.followups.answer(SENDER, instead.id, "confirmed", "Phoned the duty desk")
    assert (await runtime.checks.pending(SENDER)).items == ()


async def test_a_request_the_platform_refuses_is_our_fault_retried_with_a_trail(
    runtime: Runtime,
    clock: ManualClock,
    platform: RecordingDeliverer,
    scheduler: Scheduler,
    caplog: pytest.LogCaptureFixture,
) -> None:
    check_id = await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    platform.fail_next(RECIPIENT.user_id, *[Refused("the platform refused our request (400)")] * 5)
    await scheduler.run_once()
    assert (await follow_up_of(runtime, check_id)).state == "awaiting", "one refusal does not close it"
    assert platform.to(SENDER.user_id) == []
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        await scheduler.run_once()
    assert (await follow_up_of(runtime, check_id)).state == "undeliverable"
    async with runtime.sessions() as s:
        events = list(
            await s.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id).order_by(CheckEvent.seq))
        )
    refused = [e for e in events if e.kind == "delivery_refused"]
    assert [e.data["attempt"] for e in refused] == [1, 2, 3]
    assert all(e.data["fault"] == "sharecheck" and e.data["to"] == RECIPIENT.user_id for e in refused)
    [closed] = [e for e in events if e.kind == "follow_up_undeliverable"]
    assert closed.data["fault"] == "sharecheck" and "gave up after 3 attempts" in closed.data["reason"]
    # the notice and the question go out in the same pass, concurrently: told apart by kind, not by order
    [notice] = [m for m in platform.to(SENDER.user_id) if isinstance(m, Info)]
    [asked] = [m for m in platform.to(SENDER.user_id) if isinstance(m, FollowUpPrompt)]
    assert isinstance(notice, Info) and "a fault in ShareCheck, not theirs" in notice.lines[0]
    assert "left the workspace" not in notice.lines[0]
    assert isinstance(asked, FollowUpPrompt)
    assert "a ShareCheck fault, not the recipient's" in caplog.text
    async with runtime.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.user_id == RECIPIENT.user_id))
    assert row is not None and row.status == "failed" and row.attempts == 3


async def test_when_the_senders_own_chat_fails_the_lead_is_told_and_pending_shows_it(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await runtime.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
    check_id = await complete(runtime, SENDER, {"decision": "share"})  # to another organisation: the sender is asked
    fu = await follow_up_of(runtime, check_id)
    assert fu.kind == "sender_confirm"
    clock.advance(timedelta(hours=4))
    platform.fail_next(SENDER.user_id, Undeliverable("account_inactive"))
    await scheduler.run_once()
    await scheduler.run_once()
    fu = await follow_up_of(runtime, check_id)
    assert fu.state == "escalated", "still open: a late answer counts"
    [escalation] = platform.to(LEAD)
    assert isinstance(escalation, Info) and "could not reach" in escalation.lines[0]
    [item] = (await runtime.checks.pending(SENDER)).items
    assert "ShareCheck could not send it to you, escalated to the lead" in item.status
    result = await runtime.followups.answer(SENDER, fu.id, "confirmed")
    assert result.changed and (await runtime.checks.pending(SENDER)).items == ()


async def test_endless_failures_end_as_undeliverable_not_silence(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer
) -> None:
    scheduler = Scheduler(runtime, {"slack": platform}, instance_id="t", max_attempts=3)
    check_id = await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    platform.fail_next(RECIPIENT.user_id, *[RetryLater("http 500")] * 10)
    for _ in range(10):
        await scheduler.run_once()
        clock.advance(timedelta(minutes=20))
    assert (await follow_up_of(runtime, check_id)).state == "undeliverable"
    assert platform.to(SENDER.user_id), "the sender hears about it"


async def test_a_crashed_instances_claims_are_taken_over_after_the_lease(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer
) -> None:
    for i in range(5):
        await complete(
            runtime, Actor("slack", "T1", f"US{i}"), {"decision": "share", "recipient": Recipient(user_id=f"UR{i}")}
        )
    clock.advance(timedelta(hours=4))
    crashed = Scheduler(runtime, {"slack": platform}, instance_id="crashed", lease=timedelta(minutes=2))
    await runtime.followups.scheduled.advance_due()
    claimed = await crashed.claim()  # claimed, then the instance dies before sending
    assert len(claimed) == 5
    survivor = Scheduler(runtime, {"slack": platform}, instance_id="survivor")
    assert (await survivor.run_once()).claimed == 0  # the lease still holds
    clock.advance(timedelta(minutes=3))
    stats = await survivor.run_once()
    assert stats.delivered == 5
    assert sorted(s.user_id for s in platform.sent) == [f"UR{i}" for i in range(5)]


async def test_graceful_shutdown_releases_claims(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer
) -> None:
    await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    a = Scheduler(runtime, {"slack": platform}, instance_id="a")
    await runtime.followups.scheduled.advance_due()
    assert len(await a.claim()) == 1
    assert await a.release() == 1
    assert (await Scheduler(runtime, {"slack": platform}, instance_id="b").run_once()).delivered == 1


async def test_the_scheduler_loop_runs_and_stops(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer
) -> None:
    await share_with_colleague(runtime)
    clock.advance(timedelta(hours=4))
    stop = asyncio.Event()
    task = asyncio.create_task(Scheduler(runtime, {"slack": platform}).run(stop))
    await platform.wait_to(RECIPIENT.user_id)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(platform.to(RECIPIENT.user_id)) == 1


# --- several instances on one PostgreSQL --------------------------------------------------


@pytest.mark.postgres
async def test_two_schedulers_on_postgres_send_each_follow_up_once(postgres_url: str, clock: ManualClock) -> None:
    a = await Runtime.create(make_settings(postgres_url), clock=clock, migrate=True)
    b = await Runtime.create(make_settings(postgres_url), clock=clock, migrate=False)
    platform = RecordingDeliverer(delay=0.001)
    try:
        ids = await seed_due_follow_ups(a, 2000)
        await asyncio.gather(
            Scheduler(a, {"slack": platform}, instance_id="a", batch=100).run_once(),
            Scheduler(b, {"slack": platform}, instance_id="b", batch=100).run_once(),
        )
        asked = [m.follow_up_id for m in (s.message for s in platform.sent) if isinstance(m, FollowUpPrompt)]
        assert len(asked) == 2000
        assert sorted(asked) == sorted(str(i) for i in ids)
        async with a.sessions() as s:
            by = dict(
                (
                    await s.execute(select(OutboxMessage.claimed_by, func.count()).group_by(OutboxMessage.claimed_by))
                ).all()
            )
        assert by.get("a", 0) > 0 and by.get("b", 0) > 0, f"both instances did work: {by}"
    finally:
        await a.close()
        await b.close()


# --- professional disagreement -------------------------------------------------------------


async def test_professional_disagreement_moves_through_the_local_stages(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await share_with_colleague(runtime)
    fu = await follow_up_of(runtime, check_id)
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    await runtime.followups.answer(RECIPIENT, fu.id, "not_received")
    await scheduler.run_once()
    offer = next(m for m in platform.to(SENDER.user_id) if isinstance(m, FollowUpPrompt))
    assert [c.id for c in offer.choices] == ["start", "not_needed"]
    disagreement = uuid.UUID(offer.follow_up_id)

    started = await runtime.followups.answer(SENDER, disagreement, "start")
    assert "Stage 1 started" in started.reply.lines[0] and "due by Thu 26 Nov 2026" in started.reply.lines[0]
    platform.clear()
    clock.advance(timedelta(days=2))  # Thursday 10:00: stage 1 is due, the sender is asked how it went
    await scheduler.run_once()
    [stage1] = platform.to(SENDER.user_id)
    assert isinstance(stage1, FollowUpPrompt) and "Stage 1" in stage1.title
    assert [c.id for c in stage1.choices] == ["resolved", "next_stage"]

    await runtime.followups.answer(SENDER, disagreement, "next_stage", "They still have not found it")
    await scheduler.run_once()
    [to_lead] = platform.to(LEAD)[-1:]
    assert isinstance(to_lead, Info) and "Stage 2" in to_lead.lines[0]
    await runtime.followups.answer(SENDER, disagreement, "next_stage")
    final = await runtime.followups.answer(SENDER, disagreement, "next_stage")
    assert "still unresolved" in final.reply.lines[0]
    await scheduler.run_once()
    assert any(isinstance(m, Info) and "still unresolved" in m.lines[0] for m in platform.to(LEAD))
    kinds = await trail(runtime, check_id)
    assert kinds.count("disagreement_stage") == 3
    assert "disagreement_offered" in kinds


async def test_disagreement_resolved_at_stage_one(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    check_id = await complete(runtime, SENDER, {"decision": "share"})
    fu = await follow_up_of(runtime, check_id)
    await runtime.followups.answer(SENDER, fu.id, "could_not_confirm")
    await scheduler.run_once()
    offer = next(m for m in platform.to(SENDER.user_id) if isinstance(m, FollowUpPrompt))
    result = await runtime.followups.answer(SENDER, uuid.UUID(offer.follow_up_id), "not_needed", "Spoke to the DS")
    assert "resolved" in result.reply.lines[0]


async def test_practitioner_can_start_a_disagreement_about_a_response(runtime: Runtime, clock: ManualClock) -> None:
    check_id = await share_with_colleague(runtime)
    result = await runtime.followups.start_disagreement(SENDER, check_id)
    assert "Stage 1 started" in result.reply.lines[0]
    with pytest.raises(FollowUpNotFound):
        await runtime.followups.start_disagreement(RECIPIENT, check_id)


# --- the state machine -----------------------------------------------------------------------


def test_the_transition_table_and_the_wording_agree() -> None:
    content = followup_content()
    questions = {
        Kind.RECIPIENT_CONFIRM: [content.recipient_confirm],
        Kind.SENDER_CONFIRM: [content.sender_confirm],
        Kind.TELL_REQUESTER: [content.tell_requester],
        Kind.ADVICE: [content.advice],
        Kind.DISAGREEMENT: [content.disagreement_offer, content.disagreement_stage],
        Kind.WRITTEN_CONFIRMATION: [content.written_confirmation],
    }
    assert set(questions) == set(Kind)
    not_answers = {Verb.ASK, Verb.NUDGE, Verb.OVERDUE, Verb.UNDELIVERABLE, Verb.SENDER_UNREACHABLE}
    not_answers |= {answer.verb for answer in ReceiptAnswer}
    for kind, asked in questions.items():
        offered = {Verb(c.id) for question in asked for c in question.choices}  # every button is a verb
        assert {verb for k, _, verb in TABLE if k == kind} - not_answers == offered, kind
        for verb in offered:
            # answerable while open (escalated included: a late answer counts), never once answered
            assert all((kind, state, verb) in TABLE for state in OPEN_STATES), (kind, verb)
            assert not any((kind, state, verb) in TABLE for state in CLOSED_STATES), (kind, verb)
    # the receipt page answers the sender's follow-up whatever its state (a late answer is told, not reopened)
    assert {c.id for c in content.receipt.choices} == set(ReceiptAnswer)
    assert all((Kind.SENDER_CONFIRM, state, a.verb) in TABLE for a in ReceiptAnswer for state in State)
    assert {Kind.RECIPIENT_CONFIRM, Kind.SENDER_CONFIRM, Kind.WRITTEN_CONFIRMATION} == ESCALATING_KINDS


def test_every_wording_a_transition_names_is_in_the_content() -> None:
    messaging = FollowUpMessaging(followup_content(), make_settings("sqlite+aiosqlite://"))
    for notice in (*Notice, *ESCALATION_BODY.values()):
        assert messaging.text(notice).strip(), notice


# --- nudges are timed from delivery ----------------------------------------------------------


async def questions_of(runtime: Runtime, follow_up_id: uuid.UUID) -> list[OutboxMessage]:
    async with runtime.sessions() as s:
        return list(
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.follow_up_id == follow_up_id, OutboxMessage.purpose.in_(("ask", "nudge")))
                .order_by(OutboxMessage.created_at)
            )
        )


async def test_after_a_rate_limit_storm_the_nudge_waits_a_day_from_delivery(db_url: str, clock: ManualClock) -> None:
    rt = await Runtime.create(make_settings(db_url, sharecheck_working_hours="always"), clock=clock, migrate=True)
    platform = RecordingDeliverer()
    scheduler = Scheduler(rt, {"slack": platform}, instance_id="t")
    try:
        check_id = await share_with_colleague(rt)  # Tue 10:00: asked at 14:00, a nudge a day later
        fu = await follow_up_of(rt, check_id)
        # a 429 storm: every try is told to come back in three hours, for longer than a nudge period
        platform.fail_next(RECIPIENT.user_id, *[RetryLater("ratelimited", after=3 * 3600)] * 10)
        for _ in range(60):
            clock.advance(timedelta(hours=1))
            await scheduler.run_once()
            questions = await questions_of(rt, fu.id)
            if any(q.status == "queued" for q in questions):
                assert len(questions) == 1, f"a second question queued behind a waiting one at {clock.now()}"
        ask, nudge = await questions_of(rt, fu.id)
        assert ask.attempts == 11 and ask.sent_at == datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # Wed 20:00
        # not Wed 14:00 (a day after it was queued), which would have put it straight after the question
        assert nudge.created_at == nudge.sent_at == ask.sent_at + timedelta(hours=24)
        question, reminder = platform.to(RECIPIENT.user_id)
        assert isinstance(question, FollowUpPrompt) and not question.title.startswith("Reminder")
        assert isinstance(reminder, FollowUpPrompt) and reminder.title.startswith("Reminder")
        assert (await trail(rt, check_id)).count("follow_up_nudged") == 1
    finally:
        await scheduler.close()
        await rt.close()


async def test_on_the_console_a_nudge_waits_for_the_question_to_be_collected(
    runtime: Runtime, clock: ManualClock
) -> None:
    me = Actor("console", "local", "me")
    check_id = await complete(runtime, me, {"decision": "share"})  # Tue 10:00; I am asked at 14:00
    fu = await follow_up_of(runtime, check_id)
    for _ in range(30):  # to Wed 16:00, ShareCheck not opened
        clock.advance(timedelta(hours=1))
        await runtime.followups.scheduled.advance_due()
    [waiting] = await questions_of(runtime, fu.id)
    assert waiting.status == "queued" and (await follow_up_of(runtime, check_id)).nudges == 0
    await runtime.inbox.collect(me)  # opened at Wed 16:00: the question is handed over now
    [asked] = runtime.followups.open_prompts(await runtime.followups.asked_of(me))
    assert not asked.title.startswith("Reminder")
    for _ in range(24):
        clock.advance(timedelta(hours=1))
        await runtime.followups.scheduled.advance_due()
    ask, nudge = await questions_of(runtime, fu.id)
    assert ask.sent_at == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    assert nudge.created_at == ask.sent_at + timedelta(hours=24)
    [asked] = runtime.followups.open_prompts(await runtime.followups.asked_of(me))
    assert asked.title.startswith("Reminder")


# --- the urgent path: confirm the phone referral in writing ------------------------------------


async def written_confirmation_of(runtime: Runtime, check_id: uuid.UUID) -> FollowUp:
    [fu] = [f for f in await follow_ups_of(runtime, check_id) if f.kind == Kind.WRITTEN_CONFIRMATION]
    return fu


async def test_the_urgent_path_reminds_the_practitioner_to_confirm_in_writing(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await runtime.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
    check_id, _ = await finish_urgent_check(runtime, SENDER)  # Tue 10:00
    fu = await written_confirmation_of(runtime, check_id)
    assert fu.target_id == fu.sender_id == SENDER.user_id and fu.state == "scheduled"
    assert fu.due_at == clock.now() + timedelta(hours=4) and fu.escalate_at == clock.now() + timedelta(hours=48)
    clock.advance(timedelta(hours=4))
    await scheduler.run_once()
    [asked] = [m for m in platform.to(SENDER.user_id) if isinstance(m, FollowUpPrompt) and m.follow_up_id == str(fu.id)]
    assert asked.title == "Confirm the urgent referral in writing: case CS-2024-0113"
    assert (
        "confirmed in writing, by secure email, post or the referral form, by Thu 26 Nov 2026 10:00" in asked.lines[0]
    )
    assert [c.label for c in asked.choices] == ["Done: confirmed in writing", "Not needed", "Not yet: remind me"]

    later = await runtime.followups.answer(SENDER, fu.id, "remind_me")
    assert "ask again" in later.reply.lines[0]
    platform.clear()
    clock.advance(timedelta(hours=24))
    await scheduler.run_once()
    [reminder] = [m for m in platform.to(SENDER.user_id) if getattr(m, "follow_up_id", None) == str(fu.id)]
    assert isinstance(reminder, FollowUpPrompt) and reminder.title.startswith("Reminder: Confirm the urgent")
    done = await runtime.followups.answer(SENDER, fu.id, "in_writing", "Referral form emailed to the MASH")
    assert done.changed and "confirmed in writing" in done.reply.lines[0]
    assert (await written_confirmation_of(runtime, check_id)).state == "confirmed_in_writing"
    again = await runtime.followups.answer(SENDER, fu.id, "not_needed")
    assert not again.changed and "already answered" in again.reply.lines[0]
    # every answer is in the record's trail
    async with runtime.sessions() as s:
        events = list(await s.scalars(select(CheckEvent).where(CheckEvent.check_id == check_id)))
    answered = [e.data for e in events if e.kind == "follow_up_answered" and e.data["follow_up"] == str(fu.id)]
    assert [a["answer"] for a in answered] == ["remind_me", "in_writing"]
    assert answered[-1]["note"] == "Referral form emailed to the MASH"
    scheduled = [e.data for e in events if e.kind == "follow_up_scheduled"]
    assert {"kind": "written_confirmation", "follow_up": str(fu.id)}.items() <= scheduled[-1].items()
    # done: no more reminders, and the lead is never told about it
    platform.clear()
    for _ in range(4):
        clock.advance(timedelta(days=1))
        await scheduler.run_once()
    assert not any("in writing" in line for m in platform.to(LEAD) for line in getattr(m, "lines", ()))
    assert not any(getattr(m, "follow_up_id", None) == str(fu.id) for m in platform.to(SENDER.user_id))


async def test_an_urgent_referral_not_confirmed_in_writing_is_told_to_the_lead(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, scheduler: Scheduler
) -> None:
    await runtime.leads.assign("slack", "T1", LEAD, "workspace", "", clock.now())
    check_id, _ = await finish_urgent_check(runtime, SENDER)  # Tue 10:00
    for _ in range(2 * 24):
        clock.advance(timedelta(hours=1))
        await scheduler.run_once()
    fu = await written_confirmation_of(runtime, check_id)
    assert fu.state == "escalated" and fu.escalated_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC) and fu.nudges == 1
    [escalation] = [m for m in platform.to(LEAD) if isinstance(m, Info) and "in writing" in m.lines[0]]
    assert escalation.lines[0] == (
        "{user:USENDER} acted on immediate danger about case CS-2024-0113 on 24 Nov 2026; there is no record that "
        "the referral was confirmed in writing by Thu 26 Nov 2026 10:00."
    )
    assert "asked" in escalation.lines[1] and "nudged" in escalation.lines[1]  # the trail
    # a late answer still counts
    late = await runtime.followups.answer(SENDER, fu.id, "not_needed", "Police took it over by phone")
    assert late.changed and "no written confirmation is needed" in late.reply.lines[0]
    assert (await written_confirmation_of(runtime, check_id)).state == "not_needed"


async def test_the_time_to_confirm_in_writing_is_a_setting(
    db_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARECHECK_URGENT_WRITTEN_CONFIRMATION_HOURS", "24")
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    assert settings.sharecheck_urgent_written_confirmation_hours == 24
    assert make_settings(db_url).sharecheck_urgent_written_confirmation_hours == 24
    rt = await Runtime.create(settings, clock=clock, migrate=True)
    try:
        check_id, _ = await finish_urgent_check(rt, SENDER)  # Tue 10:00: asked at 14:00
        fu = await written_confirmation_of(rt, check_id)
        assert fu.details["in_writing_by"] == "Wed 25 Nov 2026 10:00"
        # at least a day to answer before the lead hears: Wed 14:00, not 10:00
        assert fu.escalate_at == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    finally:
        await rt.close()


async def test_a_check_not_on_the_urgent_path_has_no_written_confirmation(runtime: Runtime) -> None:
    check_id = await complete(runtime, SENDER, {"decision": "share"})
    assert [fu.kind for fu in await follow_ups_of(runtime, check_id)] == ["sender_confirm"]
