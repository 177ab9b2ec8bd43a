"""What a Teams user types and presses, and the cards they get back, in-process: the agent's parsing, the
conversation layer and the Teams messenger's rendering, with a real Runtime and database (no HTTP, no SDK).

The wire (token door, invoke responses, updates in place, proactive sends) is in tests/adapters/test_teams_endpoint.py,
tests/adapters/test_teams_flow.py and tests/adapters/test_teams_followups.py.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from sqlalchemy import select

from adapters.teams.agent import TEAMS
from adapters.teams.cards import render_notice
from adapters.teams.messenger import reply_card, spoken
from bot.checks.models import Actor
from bot.conversation.commands import Who
from bot.conversation.handler import Conversation
from bot.conversation.replies import ShowNew, Unchanged
from bot.db.models import LeadAssignment
from bot.runtime import Runtime
from dialogs.messages import Cancelled
from tests.support.adaptive_cards import assert_valid
from tests.support.teams import USER, actions, find_action, step_of
from tests.support.teams_chat import CardChat, mention

ADMIN = "29:1sharecheck-admin"
LEAD = "29:1safeguarding-lead"
ONE, TWO = "29:1practitioner-one", "29:1practitioner-two"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"sharecheck_admins": f"teams:emulator:{ADMIN}"}


@pytest.fixture
def teams(runtime: Runtime) -> Conversation:
    return Conversation(runtime, TEAMS)


def chat(runtime: Runtime, teams: Conversation, user: str = USER, **kw: Any) -> CardChat:
    return CardChat(teams, runtime.packs.engine(), Who(platform="teams", workspace_id="emulator", user_id=user), **kw)


def text_of(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def leads(runtime: Runtime) -> set[tuple[str, str, str]]:
    async with runtime.sessions() as s:
        rows = await s.execute(select(LeadAssignment.lead_id, LeadAssignment.scope, LeadAssignment.scope_value))
        return {(lead, scope, value) for lead, scope, value in rows.all()}


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_resume_with_nothing_open_offers_a_start_button_that_starts_a_check(
    runtime: Runtime, teams: Conversation, style: Literal["execute", "submit"]
) -> None:
    person = chat(runtime, teams, style=style)
    card = await person.say("resume")
    assert_valid(card)
    assert "No check in progress" in text_of(card)
    start = find_action(card, "start")
    assert start["title"] == "Start a check"
    first = await person.click(start)
    assert step_of(first) == runtime.packs.pack().start
    # the summary, a cancelled check and an empty 'pending' say how to start one too: each has the button
    pending = await person.say("pending")
    assert step_of(pending) is None and "Carry on" in text_of(pending)
    cancelled = await person.click(find_action(first, "cancel"))
    assert find_action(cancelled, "start")["title"] == "Start a new check"
    assert find_action(await person.say("pending"), "start")["title"] == "Start a check"


async def test_typed_back_cancel_and_urgent_act_on_the_check_in_progress(runtime: Runtime, teams: Conversation) -> None:
    person = chat(runtime, teams)
    first = await person.say("share-check")
    second = await person.answer_step(first, str(step_of(first)))
    assert step_of(second) != step_of(first)
    assert step_of(await person.say("back")) == step_of(first), "not help, as Teams used to read it"
    assert isinstance(person.last, ShowNew)
    await person.say("cancel")
    assert isinstance(person.messenger.shown()[-1], Cancelled)
    assert "No check in progress" in text_of(await person.say("urgent"))


async def test_a_finished_checks_button_leaves_the_card_and_says_why(runtime: Runtime, teams: Conversation) -> None:
    person = chat(runtime, teams)
    first = await person.say("share-check")
    await person.click(find_action(first, "cancel"))
    await person.click(find_action(first, "answer"), {"sc_text": "CS-1"})
    reply = person.last
    assert isinstance(reply, Unchanged) and reply.reason is not None
    # an invoke answers with a message (the card pressed stays): plain text, the command in quotes
    assert spoken(reply.reason) == (
        "That check has already finished, so nothing was changed. Type “share-check” to start a new one."
    )
    assert "**share-check**" in text_of(render_notice(reply.reason)), "as a card (Action.Submit), the command in bold"


async def test_help_is_answered_where_it_is_asked_and_offers_a_start(runtime: Runtime, teams: Conversation) -> None:
    person = chat(runtime, teams)
    person.who = person.who.model_copy(update={"private": False, "channel_id": "19:team"})
    card = await person.say("help")
    assert isinstance(person.last, ShowNew), "help carries no case details: answered in the team, not moved"
    assert_valid(card)
    shown = text_of(card)
    for command in ("share-check pending", "share-check reconsider CASE-REF", "share-check admin"):
        assert f"**{command}" in shown, command
    assert find_action(card, "start")["title"] == "Start a check"


async def test_admin_assigns_leads_and_a_practitioner_is_refused(runtime: Runtime, teams: Conversation) -> None:
    sender, admin = chat(runtime, teams), chat(runtime, teams, ADMIN)
    text = "admin lead add <at>Lead</at> <at>One</at> <at>Two</at>"
    entities = [mention(LEAD, "Lead"), mention(ONE, "One"), mention(TWO, "Two")]

    refused = await sender.say(text, entities)
    assert "Only a ShareCheck administrator can change roles" in text_of(refused)
    assert await leads(runtime) == set()

    done = await admin.say(text, entities)
    assert_valid(done)
    shown = text_of(done)
    assert "A colleague is now the safeguarding lead for another colleague, another colleague." in shown
    assert "29:" not in shown and "{user:" not in shown, "people as neutral words, never raw ids"
    assert await leads(runtime) == {(LEAD, "user", ONE), (LEAD, "user", TWO)}
    assert await runtime.digests.is_lead("teams", "emulator", LEAD)

    everyone = await admin.say("admin lead add <at>Other</at> all", [mention("29:1other-lead", "Other")])
    assert "everyone in your organisation" in text_of(everyone)
    async with runtime.sessions() as s:
        assert await runtime.leads.lead_for(s, "teams", "emulator", USER) == "29:1other-lead"
    # '@a all' with a second person named is not understood: the usage, never a guess
    usage = await admin.say("admin lead add <at>Lead</at> <at>One</at> all", entities[:2])
    assert "ShareCheck administration" in text_of(usage)

    removed = await admin.say("admin lead remove <at>Lead</at>", [mention(LEAD, "Lead")])
    assert "A colleague is no longer a lead (2 assignments removed)." in text_of(removed)
    assert not await runtime.digests.is_lead("teams", "emulator", LEAD)

    granted = await admin.say("admin add <at>One</at> <at>Two</at>", entities[1:])
    assert text_of(granted).count("is now a ShareCheck administrator") == 2
    assert await runtime.roles.is_admin(Actor("teams", "emulator", ONE))
    me = await admin.say("admin lead add <at>Me</at> all", [mention(ADMIN, "Me")])
    assert "You are now the safeguarding lead for everyone in your organisation." in text_of(me)
    usage = await admin.say("admin")
    assert "**share-check admin lead add @lead team**" in text_of(usage)
    assert not actions(usage)


async def test_the_reply_card_of_each_kind_of_reply_is_valid(runtime: Runtime, teams: Conversation) -> None:
    person = chat(runtime, teams)
    await person.say("share-check")
    await person.say("revoke **CS_1**")
    await person.say("digest")
    await person.say("disagree")
    for reply in person.messenger.replies:
        assert not isinstance(reply, Unchanged)
        for style in ("execute", "submit"):
            assert_valid(reply_card(reply, style, USER))  # type: ignore[arg-type]
