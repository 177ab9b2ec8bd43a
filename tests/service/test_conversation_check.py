"""A check through the conversation layer, as any platform drives it: commands in, neutral replies out.

A real Runtime and database, the collecting messenger: every scenario is a run of plain awaits.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.checks.messaging import SELF_RECIPIENT
from bot.clock import ManualClock
from bot.conversation.commands import AnswerStep, Back, OpenForm, Pending, Reconsider, Resume, Who
from bot.conversation.grammar import UserMention
from bot.conversation.handler import Conversation
from bot.conversation.replies import AskTyped, Moved, ShowInPlace, ShowNew, Unchanged
from bot.db.models import Check
from bot.runtime import Runtime
from bot.services.users import get_user
from dialogs.messages import Cancelled, Completion, Info, PendingList, Prompt
from dialogs.state import Answer, FieldAnswer, Recipient, Status
from tests.support.conversation import CASE, SLACK, TEAMS, FakeDirectory, Person, answer_to

STALE = "That was already done, so nothing changed: this is where your check is now."
NOT_URGENT = {"immediate_danger": "no"}
"""The first screen's answers for a check that is not urgent (the default would be its first choice, 'yes')."""


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory({"UANN": "Europe/London", "UCOLL": "America/New_York"})


@pytest.fixture
def slack(runtime: Runtime, directory: FakeDirectory) -> Conversation:
    return Conversation(runtime, SLACK, directory)


@pytest.fixture
def ann(slack: Conversation) -> Person:
    return Person(slack, Who(platform="slack", workspace_id="T1", user_id="UANN"))


async def check_row(runtime: Runtime, check_id: str | None) -> Check:
    assert check_id is not None
    async with runtime.sessions() as s:
        row = await s.get(Check, uuid.UUID(check_id))
    assert row is not None
    return row


async def answer_until(person: Person, step_id: str) -> Prompt:
    """Start a check and answer the default way (nobody in immediate danger) until it asks ``step_id``."""
    await person.say("share-check")
    while person.prompt().step_id != step_id:
        await person.fill(NOT_URGENT)
    return person.prompt()


async def test_a_whole_check_with_the_default_pack(runtime: Runtime, ann: Person, directory: FakeDirectory) -> None:
    done = await ann.finish_check({"decision": "share"})
    assert isinstance(done, Completion) and done.decision == "share" and done.case_reference == CASE
    assert not done.immediate_risk, "the share path, not the immediate-danger one"
    replies = ann.messenger.replies
    # the first step is a new message; every answer shows the next step in place of the one answered
    assert isinstance(replies[0], ShowNew) and isinstance(replies[0].message, Prompt)
    assert all(isinstance(r, ShowInPlace) and r.refused is None for r in replies[1:])
    row = await check_row(runtime, done.check_id)
    assert row.status == Status.COMPLETED.value and row.decision == "share" and row.user_id == "UANN"
    # remembered once: the platform's directory was asked for the time zone on the first turn only
    user = await get_user(runtime.sessions, "slack", "T1", "UANN")
    assert user is not None and user.tz == "Europe/London"
    assert directory.asked == ["UANN"]


async def test_a_second_press_of_the_same_button_changes_nothing_and_shows_the_current_step(
    runtime: Runtime, ann: Person
) -> None:
    await ann.say("share-check")
    first = ann.prompt()
    press = AnswerStep(check_id=uuid.UUID(str(first.check_id)), answer=answer_to(first, fields=NOT_URGENT))
    assert isinstance(await ann.do(press, delivery="trigger-1"), ShowInPlace)
    # a double click (a new delivery of the same button) and a replay of the same delivery
    for delivery in ("trigger-2", "trigger-1"):
        again = await ann.do(press, delivery=delivery)
        assert isinstance(again, ShowInPlace) and isinstance(again.message, Prompt)
        assert again.message.step_id == "gates" and again.message.notice == STALE
        assert again.refused is None
    row = await check_row(runtime, first.check_id)
    assert row.revision == first.revision + 1, "recorded once"


async def test_a_refused_answer_shows_the_step_again_with_why(runtime: Runtime, ann: Person) -> None:
    prompt = await answer_until(ann, "gates")
    reply = await ann.fill({"case_reference": "   ", "purpose": "no"})
    assert isinstance(reply, ShowInPlace) and reply.refused
    assert isinstance(reply.message, Prompt) and reply.message.step_id == prompt.step_id
    assert reply.message.notice == reply.refused
    # the form comes back with why next to the field refused, and the other answers kept
    fields = {f.id: f for f in reply.message.input.fields}
    assert fields["case_reference"].error == reply.refused
    assert fields["purpose"].error is None and fields["purpose"].initial == ("no",)
    assert (await check_row(runtime, prompt.check_id)).revision == prompt.revision


async def test_a_button_of_a_finished_check_changes_nothing_and_says_so(runtime: Runtime, ann: Person) -> None:
    await ann.say("share-check")
    old = ann.prompt()
    await ann.say("cancel")
    assert isinstance(ann.on_screen(), Cancelled)
    reply = await ann.do(AnswerStep(check_id=uuid.UUID(str(old.check_id)), answer=answer_to(old)))
    assert isinstance(reply, Unchanged)
    assert (
        reply.reason
        == "That check has already finished, so nothing was changed. Type `/share-check` to start a new one."
    )
    # a button that names the revision it was shown at: the same
    reply = await ann.do(Back(check_id=uuid.UUID(str(old.check_id)), revision=old.revision))
    assert isinstance(reply, Unchanged) and reply.reason and "already finished" in reply.reason


async def test_typed_moves_act_on_the_check_in_progress(ann: Person) -> None:
    assert isinstance(await ann.say("back"), ShowNew)
    assert ann.on_screen() == Info(
        title="No check in progress", lines=("Type `/share-check` or press the button to start one.",)
    )
    assert isinstance(ann.messenger.last, ShowNew) and ann.messenger.last.offer_start
    await ann.say("share-check")
    await ann.fill(NOT_URGENT)
    assert ann.prompt().step_id == "gates"
    reply = await ann.say("back")
    assert isinstance(reply, ShowNew) and ann.prompt().step_id == "start"
    reply = await ann.say("urgent")
    assert isinstance(reply, ShowNew) and ann.prompt().step_id == "urgent_action"
    assert not ann.prompt().urgent_exit, "on the immediate-danger path"


async def test_resume_and_pending(ann: Person) -> None:
    await ann.say("resume")
    assert isinstance(ann.on_screen(), Info), "nothing to resume"
    await ann.say("share-check")
    started = ann.prompt()
    await ann.say("start")
    assert ann.prompt().check_id == started.check_id, "one check at a time: the one in progress"
    await ann.say("resume")
    assert ann.prompt().check_id == started.check_id
    # a 'carry on' button about that check shows it in place
    reply = await ann.do(Resume(check_id=uuid.UUID(str(started.check_id))))
    assert isinstance(reply, ShowInPlace) and isinstance(reply.message, Prompt)
    await ann.do(Pending())
    pending = ann.on_screen()
    assert isinstance(pending, PendingList) and pending.items[0].check_id == started.check_id
    # someone else's check is not theirs to see
    bob = Person(ann.conversation, Who(platform="slack", workspace_id="T1", user_id="UBOB"))
    reply = await bob.do(Resume(check_id=uuid.UUID(str(started.check_id))))
    assert isinstance(reply, Unchanged) and reply.reason and "not available to you" in reply.reason


async def test_a_repeated_delivery_is_acted_on_once(runtime: Runtime, ann: Person) -> None:
    assert isinstance(await ann.say("share-check", delivery="T-1"), ShowNew)
    assert await ann.say("share-check", delivery="T-1") == Unchanged()
    assert await ann.say("pending", delivery="T-1") == Unchanged(), "the key is the delivery, whatever it says"
    assert isinstance(await ann.say("pending", delivery="T-2"), ShowNew)
    # another workspace's delivery with the same id is another delivery
    other = ann.who.model_copy(update={"workspace_id": "T2", "delivery": "T-1"})
    assert isinstance(await ann.conversation.handle(other, Pending()), ShowNew)
    async with runtime.sessions() as s:
        assert len((await s.scalars(select(Check))).all()) == 1


async def test_the_typed_form_opens_only_for_the_current_step(ann: Person) -> None:
    await ann.say("share-check")
    first = ann.prompt()
    check_id = uuid.UUID(str(first.check_id))
    reply = await ann.do(OpenForm(check_id=check_id, step_id=first.step_id, revision=first.revision))
    assert reply == AskTyped(first)
    await ann.fill(NOT_URGENT)
    reply = await ann.do(OpenForm(check_id=check_id, step_id=first.step_id, revision=first.revision))
    assert isinstance(reply, ShowInPlace) and isinstance(reply.message, Prompt)
    assert reply.message.step_id == "gates" and reply.message.notice == STALE


async def test_reconsidering_a_do_not_share_decision(ann: Person) -> None:
    done = await ann.finish_check({"decision": "not_share"})
    assert isinstance(done, Completion) and done.can_reconsider
    reply = await ann.do(Reconsider(check_id=uuid.UUID(str(done.check_id))))
    # a new message: the summary it came from stays as it is
    assert isinstance(reply, ShowNew) and isinstance(reply.message, Prompt)
    assert reply.message.check_id != done.check_id
    assert reply.message.notice == "Reconsidering with new information: this check is linked to the earlier decision."
    # while that check is open, it is shown again with why
    again = await ann.say(f"reconsider {CASE}")
    assert isinstance(again, ShowNew) and isinstance(again.message, Prompt)
    assert again.message.check_id == reply.message.check_id
    assert again.message.notice == "Finish or cancel the check you have in progress first, then reconsider."
    assert await ann.say("reconsider") == ShowNew(
        Info(
            title="Which decision?",
            lines=("Type `/share-check reconsider` and the case reference of a 'do not share' decision of yours.",),
        )
    )
    nothing = await ann.do(Reconsider(check_id=uuid.uuid4()))
    assert nothing == Unchanged("That is not one of your 'do not share' decisions, so nothing was reopened.")


async def test_a_colleague_named_with_a_mention_is_the_recipient(runtime: Runtime, ann: Person) -> None:
    recipient_step = await answer_until(ann, "recipient")
    # naming only yourself is refused by the check, with the reason
    reply = await ann.say("<@UANN>", [("<@UANN>", UserMention("UANN"))])
    assert isinstance(reply, ShowNew) and isinstance(reply.message, Prompt)
    assert reply.message.step_id == "recipient" and reply.message.notice == SELF_RECIPIENT
    reply = await ann.say(
        "it is <@UANN> and <@UCOLL>", [("<@UANN>", UserMention("UANN")), ("<@UCOLL>", UserMention("UCOLL"))]
    )
    assert isinstance(reply, ShowNew) and isinstance(reply.message, Prompt)
    assert reply.message.step_id != recipient_step.step_id
    # the follow-up will ask them: their time zone is kept (Slack could only tell it by asking)
    colleague = await get_user(runtime.sessions, "slack", "T1", "UCOLL")
    assert colleague is not None and colleague.tz == "America/New_York"


async def test_a_colleague_picked_in_a_form_is_remembered_too(runtime: Runtime, ann: Person) -> None:
    await answer_until(ann, "recipient")
    reply = await ann.answer(Recipient(user_id="UCOLL"))
    assert isinstance(reply, ShowInPlace) and reply.refused is None
    colleague = await get_user(runtime.sessions, "slack", "T1", "UCOLL")
    assert colleague is not None and colleague.tz == "America/New_York"


async def test_a_mention_with_no_recipient_asked_is_no_command(ann: Person) -> None:
    reply = await ann.say("hello <@UCOLL>", [("<@UCOLL>", UserMention("UCOLL"))])
    assert isinstance(reply, ShowNew) and reply.offer_start
    assert isinstance(reply.message, Info) and reply.message.title.startswith("ShareCheck: check before you share")


async def test_teams_in_a_channel_continues_in_the_private_chat(runtime: Runtime) -> None:
    teams = Conversation(runtime, TEAMS)
    ref = {"conversation": {"id": "a:1"}, "serviceUrl": "https://smba.example"}
    who = Who(platform="teams", workspace_id="tenant", user_id="29:jo", tz="Europe/London", aad_object_id="aad-jo")
    jo = Person(teams, who.model_copy(update={"conversation_ref": ref}))
    in_team: dict[str, Any] = {"private": False, "channel_id": "19:team", "conversation_ref": None}
    reply = await jo.say("share-check", **in_team)
    assert isinstance(reply, Moved) and isinstance(reply.then.message, Prompt)
    assert reply.notice.startswith("I have sent you a private message")
    assert "`share-check`" in reply.unreachable
    row = await check_row(runtime, reply.then.message.check_id)
    assert row.channel_id == "19:team", "led by the lead of the team it was started from"
    # answers with case details follow it; help is answered where it was asked
    assert isinstance(await jo.say("pending", **in_team), Moved)
    assert isinstance(await jo.say("help", **in_team), ShowNew)
    # what the private chat told about them was kept: time zone, how to reach them, their Entra id
    await jo.say("pending")
    user = await get_user(runtime.sessions, "teams", "tenant", "29:jo")
    assert user is not None and user.tz == "Europe/London" and user.aad_object_id == "aad-jo"
    assert user.conversation_ref == ref


async def test_slack_answers_privately_in_a_channel_but_checks_go_to_the_private_chat(ann: Person) -> None:
    in_channel: dict[str, Any] = {"private": False, "channel_id": "CGEN"}
    assert isinstance(await ann.say("pending", **in_channel), ShowNew), "an ephemeral message is private"
    reply = await ann.say("share-check", **in_channel)
    assert isinstance(reply, Moved) and isinstance(reply.then.message, Prompt)


async def test_what_a_person_is_remembered_by_is_written_when_it_changes(
    runtime: Runtime, clock: ManualClock, directory: FakeDirectory
) -> None:
    teams = Conversation(runtime, TEAMS)
    who = Who(platform="teams", workspace_id="tenant", user_id="29:jo", tz="Europe/London")
    await teams.handle(who, Pending())
    await teams.handle(who.model_copy(update={"tz": "Europe/Paris"}), Pending())
    user = await get_user(runtime.sessions, "teams", "tenant", "29:jo")
    assert user is not None and user.tz == "Europe/Paris"
    # Slack: the directory is asked once in a while, not every turn
    slack = Conversation(runtime, SLACK, directory)
    ann = Who(platform="slack", workspace_id="T1", user_id="UANN")
    for _ in range(3):
        await slack.handle(ann, Pending())
    assert directory.asked == ["UANN"]
    clock.advance(timedelta(hours=2))
    await slack.handle(ann, Pending())
    assert directory.asked == ["UANN", "UANN"]


async def test_an_answer_is_passed_through_untouched(runtime: Runtime, ann: Person) -> None:
    """Whatever the step's kind, the layer hands the engine's answer on as it came: a form's fields, and typed
    text with the practitioner's 'keep my answer' (without it, this text would be refused with a warning)."""
    prompt = await answer_until(ann, "gates")
    fields = {"purpose": FieldAnswer(choices=("yes",)), "risk_of_harm": FieldAnswer(choices=("yes",))}
    form = Answer(
        step_id="gates", revision=prompt.revision, fields=fields | {"case_reference": FieldAnswer(text="CS-9")}
    )
    assert isinstance(await ann.do(AnswerStep(check_id=uuid.UUID(str(prompt.check_id)), answer=form)), ShowInPlace)
    prompt = await answer_until(ann, "what")
    text = "Seen at the family's new address, B12 9QD, by the health visitor."
    answer = Answer(step_id="what", revision=prompt.revision, text=text, confirm_personal_data=True)
    reply = await ann.do(AnswerStep(check_id=uuid.UUID(str(prompt.check_id)), answer=answer))
    assert isinstance(reply, ShowInPlace) and reply.refused is None
    answers = (await check_row(runtime, prompt.check_id)).state["answers"]
    assert answers["case_reference"]["text"] == "CS-9" and "hesitation" not in answers, "an optional field left out"
    assert answers["what"]["text"] == text and answers["what"]["personal_data"] == ["postcode"]
