"""Follow-ups and digests through the conversation layer, in-process: a share, the scheduler delivering the
question (a recording deliverer), the colleague answering as their button would, then what `pending` and
`digest` show each person. Moved here from the Slack end-to-end tests, which keep the wire (buttons, modals,
the real deliverer)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.conversation.commands import FollowUpAnswer, Who
from bot.conversation.handler import Conversation
from bot.conversation.replies import ShowInPlace
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from dialogs.messages import Digest, FollowUpPrompt, Info, PendingList
from dialogs.state import Recipient
from tests.support.conversation import CASE, SLACK, FakeDirectory, Person
from tests.support.deliverers import RecordingDeliverer

TEAM = "T1"
ALICE, BOB, LEAD = "UALICE", "UBOB", "ULEAD"


@pytest.fixture
def slack(runtime: Runtime) -> Conversation:
    return Conversation(runtime, SLACK, FakeDirectory())


@pytest.fixture
def platform() -> RecordingDeliverer:
    return RecordingDeliverer()


def person(conversation: Conversation, user_id: str, team: str = TEAM) -> Person:
    return Person(conversation, Who(platform="slack", workspace_id=team, user_id=user_id))


async def share_with_bob(slack: Conversation) -> Person:
    alice = person(slack, ALICE)
    await alice.finish_check({"decision": "share", "recipient": Recipient(user_id=BOB)})
    return alice


async def ask(
    runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer, user: str = BOB, hours: float = 4
) -> FollowUpPrompt:
    """Time moves past the follow-up's delay; the scheduler delivers the question to ``user``."""
    clock.advance(timedelta(hours=hours))
    await Scheduler(runtime, {"slack": platform}).run_once()
    question = platform.to(user)[-1]
    assert isinstance(question, FollowUpPrompt)
    return question


async def ask_bob(runtime: Runtime, clock: ManualClock, platform: RecordingDeliverer) -> FollowUpPrompt:
    return await ask(runtime, clock, platform)


async def press(who: Person, question: FollowUpPrompt, choice: str) -> Info:
    """The answer's button on the question pressed: its message becomes the result."""
    reply = await who.do(FollowUpAnswer(follow_up_id=uuid.UUID(question.follow_up_id), choice=choice))
    assert isinstance(reply, ShowInPlace) and reply.recorded and isinstance(reply.message, Info), reply
    return reply.message


def text(message: object) -> str:
    assert isinstance(message, Info | FollowUpPrompt), message
    return " ".join((message.title, *message.lines))


def statuses(pending: object) -> list[tuple[str | None, str]]:
    assert isinstance(pending, PendingList), pending
    return [(item.case_reference, item.status) for item in pending.items]


async def test_pending_lists_a_follow_up_for_the_recipient_and_the_sender(
    runtime: Runtime, clock: ManualClock, slack: Conversation, platform: RecordingDeliverer
) -> None:
    await share_with_bob(slack)
    await ask_bob(runtime, clock, platform)
    bob = person(slack, BOB)
    await bob.say("pending")
    [(case, status)] = statuses(bob.on_screen())
    assert case == CASE and status.startswith("Please confirm: information shared with you: awaiting an answer")
    assert "you are asked to confirm" in status
    alice = person(slack, ALICE)
    await alice.say("pending")
    [(case, status)] = statuses(alice.on_screen())
    assert case == CASE and "waiting for the recipient" in status


async def test_the_digest_now_shows_a_lead_what_needs_them(
    runtime: Runtime, clock: ManualClock, slack: Conversation, platform: RecordingDeliverer
) -> None:
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", clock.now())
    alice = await share_with_bob(slack)
    question = await ask_bob(runtime, clock, platform)
    # Bob presses 'not received' on the question: the follow-up's message becomes the result
    bob = person(slack, BOB)
    pressed = await bob.do(FollowUpAnswer(follow_up_id=uuid.UUID(question.follow_up_id), choice="not_received"))
    assert isinstance(pressed, ShowInPlace) and pressed.recorded
    clock.advance(timedelta(minutes=5))

    await alice.say("digest")
    assert not isinstance(alice.on_screen(), Digest), "digests are for leads"
    lead = person(slack, LEAD)
    await lead.say("digest")
    digest = lead.on_screen()
    assert isinstance(digest, Digest) and digest.title.startswith("Information sharing in your team")
    needs = [(item.case_reference, item.text) for item in digest.needs_you]
    assert (CASE, "the recipient says it has NOT arrived") in needs, needs
    escalated = next(f for f in digest.figures if f.label == "Escalated to a lead")
    assert (escalated.value, escalated.change) == (1, 1)

    # a lead of another workspace sees nothing of this one
    await runtime.leads.assign("slack", "T2", LEAD, "workspace", "", clock.now())
    elsewhere = person(slack, LEAD, team="T2")
    await elsewhere.say("digest")
    other = elsewhere.on_screen()
    assert isinstance(other, Digest) and other.empty and not other.needs_you


async def test_a_sender_who_could_not_confirm_receipt_escalates_at_once(
    runtime: Runtime, clock: ManualClock, slack: Conversation, platform: RecordingDeliverer
) -> None:
    await runtime.leads.assign("slack", TEAM, LEAD, "workspace", "", clock.now())
    alice = person(slack, ALICE)
    await alice.finish_check({"decision": "share"})  # to an organisation and role: Alice is asked to confirm
    question = await ask(runtime, clock, platform, ALICE)
    assert [c.id for c in question.choices] == ["confirmed", "remind_me", "could_not_confirm"]
    await press(alice, question, "could_not_confirm")
    await Scheduler(runtime, {"slack": platform}).run_once()
    [escalation] = platform.to(LEAD)
    assert "could not confirm" in text(escalation)


async def test_not_sharing_after_a_request_reminds_to_tell_the_requester(
    runtime: Runtime, clock: ManualClock, slack: Conversation, platform: RecordingDeliverer
) -> None:
    alice = person(slack, ALICE)
    await alice.finish_check({"request_context": "asked", "decision": "not_share", "requester_told": "will_tell"})
    question = await ask(runtime, clock, platform, ALICE)
    assert "Tell the requester" in text(question)
    assert [c.id for c in question.choices] == ["told", "remind_me"]
    assert "requester has been told" in text(await press(alice, question, "told"))
