"""Commands about a recorded case through the conversation layer: revoking receipt links, disagreeing with a
response, answering follow-ups (with and without a note). Typed case references are quoted as typed text."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.conversation.commands import FollowUpAnswer, NoteAsk, Who
from bot.conversation.grammar import UserMention
from bot.conversation.handler import Conversation
from bot.conversation.replies import AskTyped, NoteRequest, ShowInPlace, ShowNew, Unchanged
from bot.db.models import FollowUp, ReceiptLink
from bot.runtime import Runtime
from dialogs import text_safety
from dialogs.messages import Completion, Info
from dialogs.state import Recipient
from tests.support.conversation import CASE, SLACK, FakeDirectory, Person

GONE = (
    "That follow-up is not one ShareCheck can find for you, so nothing was changed. Type `/share-check pending` to see "
    "what is open for you."
)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # receipt links on: a share to another organisation gets one
    return {
        "sharecheck_public_url": "https://sharecheck.example.org",
        "sharecheck_organisation_name": "Northshire Children's Services",
        "sharecheck_secret_key": "test-secret-key-for-receipt-forms",
    }


@pytest.fixture
def slack(runtime: Runtime) -> Conversation:
    return Conversation(runtime, SLACK, FakeDirectory({"UCOLL": "Europe/London"}))


@pytest.fixture
def ann(slack: Conversation) -> Person:
    return Person(slack, Who(platform="slack", workspace_id="T1", user_id="UANN"))


def shown(reply: object) -> Info:
    assert isinstance(reply, ShowNew) and isinstance(reply.message, Info), reply
    return reply.message


async def follow_up_of(runtime: Runtime, kind: str) -> FollowUp:
    async with runtime.sessions() as s:
        fu = await s.scalar(select(FollowUp).where(FollowUp.kind == kind))
    assert fu is not None
    return fu


async def test_revoking_receipt_links(runtime: Runtime, ann: Person) -> None:
    usage = shown(await ann.say("revoke"))
    assert usage.title == "Which case?"
    assert usage.lines == (
        "Type `/share-check revoke` and the case reference, as in the summary, for example: "
        "`/share-check revoke CS-2024-0113`.",
    )
    nothing = await ann.say("revoke <@UX>", [("<@UX>", UserMention("UX"))])
    assert shown(nothing) == usage, "a mention is no case reference"
    reply = await ann.say("revoke CS-*bold*")
    info = shown(reply)
    assert isinstance(reply, ShowNew) and reply.plain
    assert info.title == "Nothing revoked"
    assert text_safety.render(info.lines[0], text_safety.plain) == "No live receipt link of yours for case CS-*bold*."
    assert info.lines[0].startswith(text_safety.TYPED_START), "quoted as typed: no renderer makes it markup"

    done = await ann.finish_check({"decision": "share"})
    assert isinstance(done, Completion) and done.covering_note and "/r/" in done.covering_note
    reply = await ann.say(f"/share-check revoke {CASE}.")
    info = shown(reply)
    assert isinstance(reply, ShowNew) and reply.plain
    assert text_safety.render(info.title, text_safety.plain) == f"Receipt link revoked for {CASE}"
    assert text_safety.render(info.lines[0], text_safety.plain) == (
        f"Revoked 1 receipt link for case {CASE}: it no longer opens the receipt page and takes no answer. "
        "The revocation is recorded on the case's trail."
    )
    async with runtime.sessions() as s:
        link = await s.scalar(select(ReceiptLink))
    assert link is not None and link.revoked_at is not None


async def test_disagreeing_with_a_response(runtime: Runtime, ann: Person) -> None:
    usage = shown(await ann.say("disagree"))
    assert usage.title == "Which case?" and "`/share-check disagree CS-2024-0113`" in usage.lines[0]
    none = await ann.say("disagree CS-0000")
    assert shown(none).title == "No disagreement started"
    await ann.finish_check({"decision": "share"})
    reply = await ann.say(f"disagree {CASE}")
    assert isinstance(reply, ShowNew) and reply.plain
    assert f"Stage 1 started for case {CASE}" in shown(reply).lines[0]
    again = shown(await ann.say(f"disagree {CASE}"))
    assert "already at Stage 1" in again.lines[0]


async def test_answering_a_follow_up(runtime: Runtime, ann: Person) -> None:
    await ann.finish_check({"decision": "share"})
    fu = await follow_up_of(runtime, "sender_confirm")
    # an answer that takes an optional note: asked for first, nothing recorded yet
    ask = FollowUpAnswer(follow_up_id=fu.id, choice="confirmed", ask_note=NoteAsk.OPTIONAL, question="How?")
    assert await ann.do(ask) == AskTyped(NoteRequest(fu.id, "confirmed", "How?", required=False))
    assert (await follow_up_of(runtime, "sender_confirm")).state == fu.state
    # someone else pressing it, or a made-up follow-up: the same answer
    bob = Person(ann.conversation, Who(platform="slack", workspace_id="T1", user_id="UBOB"))
    assert await bob.do(FollowUpAnswer(follow_up_id=fu.id, choice="confirmed")) == Unchanged(GONE)
    assert await ann.do(FollowUpAnswer(follow_up_id=uuid.uuid4(), choice="confirmed")) == Unchanged(GONE)
    assert await ann.do(FollowUpAnswer(follow_up_id=fu.id, choice="no_such_answer")) == Unchanged(GONE)
    # the answer, with its note: the follow-up's message becomes the result
    reply = await ann.do(FollowUpAnswer(follow_up_id=fu.id, choice="confirmed", note="Phone call with the duty worker"))
    assert isinstance(reply, ShowInPlace) and reply.recorded and reply.plain
    assert (await follow_up_of(runtime, "sender_confirm")).state == "confirmed"
    again = await ann.do(FollowUpAnswer(follow_up_id=fu.id, choice="confirmed"))
    assert isinstance(again, ShowInPlace) and not again.recorded
    assert isinstance(again.message, Info) and "already answered" in again.message.lines[0]


async def test_a_required_note_is_asked_for_before_anything_is_recorded(runtime: Runtime, ann: Person) -> None:
    # a share with a colleague: the follow-up asks them, and 'I need clarification' needs a note
    await ann.say("share-check")
    while ann.prompt().step_id != "recipient":
        await ann.fill({"immediate_danger": "no"})
    await ann.answer(Recipient(user_id="UCOLL"))
    await ann.finish_check({"decision": "share"})
    fu = await follow_up_of(runtime, "recipient_confirm")
    colleague = Person(ann.conversation, Who(platform="slack", workspace_id="T1", user_id="UCOLL"))
    press = FollowUpAnswer(follow_up_id=fu.id, choice="clarification", ask_note=NoteAsk.REQUIRED, question="Q?")
    reply = await colleague.do(press)
    assert reply == AskTyped(
        NoteRequest(fu.id, "clarification", "What is unclear? Use the case reference, not names.", required=True)
    )
    # a form sent without one is asked again
    assert isinstance(await colleague.do(FollowUpAnswer(follow_up_id=fu.id, choice="clarification")), AskTyped)
    # a note that looks like personal details: warned, then kept as it is if they say so
    warned = await colleague.do(
        FollowUpAnswer(follow_up_id=fu.id, choice="clarification", note="Call me on 07700 900123")
    )
    assert isinstance(warned, AskTyped) and isinstance(warned.prompt, NoteRequest)
    assert warned.prompt.personal_data and warned.prompt.note == "Call me on 07700 900123"
    kept = await colleague.do(
        FollowUpAnswer(
            follow_up_id=fu.id, choice="clarification", note="Call me on 07700 900123", confirm_personal_data=True
        )
    )
    assert isinstance(kept, ShowInPlace) and kept.recorded
    assert (await follow_up_of(runtime, "recipient_confirm")).state == "clarification"


async def test_a_colleague_named_by_mention_gets_the_follow_up(runtime: Runtime, ann: Person) -> None:
    await ann.say("share-check")
    while ann.prompt().step_id != "recipient":
        await ann.fill({"immediate_danger": "no"})
    await ann.say("<@UCOLL>", [("<@UCOLL>", UserMention("UCOLL"))])
    await ann.finish_check({"decision": "share"})
    fu = await follow_up_of(runtime, "recipient_confirm")
    assert fu.target_id == "UCOLL"
