"""Roles through the conversation layer: the digest is for leads, the admin commands (one grammar for all
platforms) change roles for administrators only, and the answers are worded once for every surface."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.conversation.commands import Who
from bot.conversation.grammar import ChannelMention, Mention, UserMention
from bot.conversation.handler import Conversation
from bot.conversation.replies import ShowNew
from bot.db.models import LeadAssignment
from bot.runtime import Runtime
from dialogs.messages import Digest, Info
from tests.support.conversation import SLACK, TEAMS, Person

LEAD, ANN, BOB, CHAN = UserMention("ULEAD"), UserMention("UANN"), UserMention("UBOB"), ChannelMention("CGEN")
RAW: dict[Mention, str] = {LEAD: "<@ULEAD|jo>", ANN: "<@UANN|ann>", BOB: "<@UBOB>", CHAN: "<#CGEN|general>"}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"sharecheck_admins": "slack:T1:UADMIN,teams:emulator:29:admin"}


@pytest.fixture
def slack(runtime: Runtime) -> Conversation:
    return Conversation(runtime, SLACK)


def person(conversation: Conversation, user_id: str, **where: object) -> Person:
    return Person(conversation, Who(platform="slack", workspace_id="T1", user_id=user_id, **where))


async def say(who: Person, words: list[str | Mention], **where: object) -> Info:
    """Type ``words`` as Slack would put them in a slash command's text (mentions escaped), answered as an Info."""

    def raw(mention: Mention) -> str:
        if mention in RAW:
            return RAW[mention]
        return f"<@{mention.user_id}>" if isinstance(mention, UserMention) else f"<#{mention.channel_id}>"

    text = " ".join(w if isinstance(w, str) else raw(w) for w in words)
    mentions = [(raw(w), w) for w in words if not isinstance(w, str)]
    reply = await who.say(text, mentions, **where)
    assert isinstance(reply, ShowNew), reply
    assert isinstance(reply.message, Info)
    return reply.message


async def assignments(runtime: Runtime) -> set[tuple[str, str, str]]:
    async with runtime.sessions() as s:
        rows = await s.execute(select(LeadAssignment.lead_id, LeadAssignment.scope, LeadAssignment.scope_value))
        return {(lead, scope, value) for lead, scope, value in rows.all()}


async def test_the_digest_is_for_leads_only(runtime: Runtime, slack: Conversation) -> None:
    ann, admin = person(slack, "UANN"), person(slack, "UADMIN")
    refused = await say(ann, ["digest"])
    assert refused.title == "Digests are for safeguarding leads"
    assert "`/share-check admin lead add`" in refused.lines[0]
    await say(admin, ["admin", "lead", "add", ANN, "all"])
    await ann.say("digest")
    assert isinstance(ann.on_screen(), Digest)


ADMIN_TABLE: list[tuple[list[str | Mention], dict[str, object], tuple[str, ...], set[tuple[str, str, str]]]] = [
    (
        ["admin", "lead", "add", LEAD, ANN, BOB],
        {},
        ("{user:ULEAD} is now the safeguarding lead for {user:UANN}, {user:UBOB}.",),
        {("ULEAD", "user", "UANN"), ("ULEAD", "user", "UBOB")},
    ),
    (
        ["admin", "lead", "add", LEAD, ANN, CHAN],
        {},
        ("{user:ULEAD} is now the safeguarding lead for {user:UANN}, checks started in 1 channel.",),
        {("ULEAD", "user", "UANN"), ("ULEAD", "channel", "CGEN")},
    ),
    (
        ["admin", "lead", "add", LEAD, "everyone"],
        {},
        ("{user:ULEAD} is now the safeguarding lead for everyone in your organisation.",),
        {("ULEAD", "workspace", "")},
    ),
    (
        ["admin", "lead", "add", LEAD, "channel"],
        {"private": False, "channel_id": "CSAFE"},
        ("{user:ULEAD} is now the safeguarding lead for checks started from this channel.",),
        {("ULEAD", "channel", "CSAFE")},
    ),
    (
        ["admin", "lead", "add", LEAD, "here"],
        {},
        ("Type `/share-check admin lead add @lead channel` in a channel of the people they lead.",),
        set(),
    ),
]


@pytest.mark.parametrize(
    ("words", "where", "lines", "stored"), ADMIN_TABLE, ids=[str(i) for i in range(len(ADMIN_TABLE))]
)
async def test_setting_leads(
    runtime: Runtime,
    slack: Conversation,
    words: list[str | Mention],
    where: dict[str, object],
    lines: tuple[str, ...],
    stored: set[tuple[str, str, str]],
) -> None:
    admin = person(slack, "UADMIN")
    info = await say(admin, words, **where)
    assert info.lines == lines
    assert await assignments(runtime) == stored
    # role changes carry no case details: answered where they were asked, even in a channel
    assert isinstance(admin.messenger.last, ShowNew)
    if stored:
        again = await say(admin, words, **where)
        assert again.lines == (*lines, "This was already set, so nothing changed.")


async def test_removing_leads_and_administrators(runtime: Runtime, slack: Conversation) -> None:
    admin = person(slack, "UADMIN")
    await say(admin, ["admin", "lead", "add", LEAD, ANN, BOB])
    info = await say(admin, ["admin", "lead", "remove", LEAD])
    assert info.lines == ("{user:ULEAD} is no longer a lead (2 assignments removed).",)
    assert await assignments(runtime) == set()
    info = await say(admin, ["admin", "add", ANN, BOB])
    assert info.title == "ShareCheck roles"
    assert info.lines == (
        "{user:UANN} is now a ShareCheck administrator.",
        "{user:UBOB} is now a ShareCheck administrator.",
    )
    assert (await say(admin, ["admin", "add", ANN])).lines == ("{user:UANN} was already a ShareCheck administrator.",)
    # the new administrator can change roles now
    ann = person(slack, "UANN")
    assert (await say(ann, ["admin", "remove", BOB])).lines == ("{user:UBOB} is no longer a ShareCheck administrator.",)
    assert (await say(ann, ["admin", "remove", BOB])).lines == ("{user:UBOB} was not a ShareCheck administrator.",)
    # one named in the settings can only be removed there
    refused = await say(ann, ["admin", "remove", UserMention("UADMIN")])
    assert refused.title == "Not permitted" and "SHARECHECK_ADMINS" in refused.lines[0]


async def test_only_administrators_change_roles(runtime: Runtime, slack: Conversation) -> None:
    info = await say(person(slack, "UANN"), ["admin", "lead", "add", ANN, "all"])
    assert info.title == "Not permitted"
    assert info.lines == ("Only a ShareCheck administrator can change roles. Ask your administrator.",)
    assert await assignments(runtime) == set()


async def test_usage_is_worded_for_the_surface(runtime: Runtime, slack: Conversation) -> None:
    usage = await say(person(slack, "UANN"), ["admin", "lead", "add", "jane"])
    assert usage.title == "ShareCheck administration"
    assert usage.lines[1].startswith("`/share-check admin lead add @lead channel`, typed in a channel")
    teams = Person(Conversation(runtime, TEAMS), Who(platform="teams", workspace_id="emulator", user_id="29:ann"))
    reply = await teams.say("admin")
    assert isinstance(reply, ShowNew) and isinstance(reply.message, Info)
    assert reply.message.lines[1].startswith("`share-check admin lead add @lead team`, typed in a team")


async def test_teams_sets_the_lead_of_a_team_in_that_team(runtime: Runtime) -> None:
    teams = Conversation(runtime, TEAMS)
    admin = Person(teams, Who(platform="teams", workspace_id="emulator", user_id="29:admin"))
    lead = UserMention("29:lead")
    in_team = {"private": False, "channel_id": "19:team"}
    reply = await admin.say("admin lead add <at>Jo</at> team", [("<at>Jo</at>", lead)], **in_team)
    assert isinstance(reply, ShowNew), "answered in the team, not moved"
    assert reply.plain, "people are named by tokens each platform renders"
    assert isinstance(reply.message, Info)
    assert reply.message.lines == ("{user:29:lead} is now the safeguarding lead for checks started from this team.",)
    assert await assignments(runtime) == {("29:lead", "channel", "19:team")}


async def test_help_is_one_text_for_every_surface(runtime: Runtime, slack: Conversation) -> None:
    on_slack = await say(person(slack, "UANN"), ["help"])
    teams = Person(Conversation(runtime, TEAMS), Who(platform="teams", workspace_id="emulator", user_id="29:ann"))
    reply = await teams.say("help")
    assert isinstance(reply, ShowNew) and reply.offer_start and isinstance(reply.message, Info)
    on_teams = reply.message
    assert on_slack.title == on_teams.title
    assert [line.replace("/share-check", "share-check") for line in on_slack.lines] == list(on_teams.lines)
    assert "`/share-check pending` lists what is still open for you." in on_slack.lines
    assert on_slack.lines[-2].endswith("act first, record after.")
    assert on_slack.lines[-1] == "Use the case reference, not names. ShareCheck stores the least it can."
