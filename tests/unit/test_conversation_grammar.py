"""One command grammar for Slack's slash command, Teams' typed messages and the console: a table of inputs."""

from __future__ import annotations

import pytest

from bot.conversation.commands import (
    Admin,
    AdminAction,
    Back,
    Cancel,
    Command,
    DigestNow,
    Disagree,
    Help,
    LeadScope,
    NameColleague,
    Pending,
    Reconsider,
    Resume,
    Revoke,
    Start,
    Urgent,
)
from bot.conversation.grammar import ChannelMention, Mention, UserMention, parse, parse_text, tokenize

LEAD, ANN, BOB, CHAN = UserMention("ULEAD"), UserMention("UANN"), UserMention("UBOB"), ChannelMention("CGEN")
USAGE = Admin(action=AdminAction.USAGE)

TABLE: list[tuple[list[str | Mention], Command]] = [
    # starting and carrying on: the command word is optional, case and punctuation do not matter
    ([], Help()),  # a message with no words (a file, the bot mentioned alone) asks for nothing
    (["share-check"], Start()),
    (["/share-check"], Start()),
    (["ShareCheck"], Start()),
    (["start"], Start()),
    (["share-check", "Resume"], Resume()),
    (["resume."], Resume()),
    (["pending"], Pending()),
    (["PENDING!"], Pending()),
    (["digest"], DigestNow()),
    (["help"], Help()),
    (["help", "me"], Help()),
    (["resume", "now"], Help()),
    (["hello"], Help()),
    (["back"], Back()),
    (["cancel"], Cancel()),
    (["urgent"], Urgent()),
    # commands about a case: the reference as typed, one word, trailing punctuation dropped
    (["revoke", "CS-2024-0113"], Revoke(case_reference="CS-2024-0113")),
    (["/share-check", "revoke", "CS-2024-0113."], Revoke(case_reference="CS-2024-0113")),
    (["revoke:", "cs_24_1"], Revoke(case_reference="cs_24_1")),
    (["revoke"], Revoke()),
    (["revoke", "CS", "2024"], Revoke()),
    (["revoke", ANN], Revoke()),
    (["disagree", "CS-2024-0113"], Disagree(case_reference="CS-2024-0113")),
    (["share-check", "disagree"], Disagree()),
    (["reconsider", "CS-2024-0113"], Reconsider(case_reference="CS-2024-0113")),
    (["reconsider"], Reconsider()),
    # a colleague named outside a command: the recipient, while the check asks for one
    ([ANN], NameColleague(user_ids=("UANN",))),
    (["it", "is", ANN, "and", BOB, ANN], NameColleague(user_ids=("UANN", "UBOB"))),
    ([CHAN], Help()),
    # administration: the union of what Slack and Teams accepted
    (["admin"], USAGE),
    (
        ["admin", "lead", "add", LEAD, ANN, BOB],
        Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", users=("UANN", "UBOB")),
    ),
    (
        ["admin", "lead", "add", LEAD, ANN, CHAN],
        Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", users=("UANN",), channels=("CGEN",)),
    ),
    (["admin", "lead", "add", LEAD, CHAN], Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", channels=("CGEN",))),
    (["admin", "lead", "add", LEAD, "all"], Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", scope=LeadScope.EVERYONE)),
    (["Admin", "Lead", "Add", LEAD, "ALL"], Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", scope=LeadScope.EVERYONE)),
    (
        ["admin", "lead", "add", LEAD, "everyone"],
        Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", scope=LeadScope.EVERYONE),
    ),
    (["admin", "lead", "add", LEAD, "team"], Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", scope=LeadScope.HERE)),
    (
        ["admin", "lead", "add", LEAD, "channel."],
        Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", scope=LeadScope.HERE),
    ),
    (["admin", "lead", "add", LEAD, "here"], Admin(action=AdminAction.LEAD_ADD, lead="ULEAD", scope=LeadScope.HERE)),
    (["share-check", "admin", "lead", "remove", LEAD], Admin(action=AdminAction.LEAD_REMOVE, lead="ULEAD")),
    (["admin", "add", ANN], Admin(action=AdminAction.ADMIN_ADD, users=("UANN",))),
    (["admin", "add", ANN, BOB, ANN], Admin(action=AdminAction.ADMIN_ADD, users=("UANN", "UBOB"))),
    (["admin", "remove", ANN], Admin(action=AdminAction.ADMIN_REMOVE, users=("UANN",))),
    # anything not fully understood shows the usage: a role change is never guessed
    (["admin", "lead", "add", LEAD], USAGE),
    (["admin", "lead", "add", "jane", ANN], USAGE),
    (["admin", "lead", "add", LEAD, ANN, "all"], USAGE),
    (["admin", "lead", "add", LEAD, "all", "team"], USAGE),
    (["admin", "lead", "add", LEAD, "some"], USAGE),
    (["admin", "lead", "remove"], USAGE),
    (["admin", "lead", "remove", LEAD, ANN], USAGE),
    (["admin", "lead", "remove", CHAN], USAGE),
    (["admin", "add"], USAGE),
    (["admin", "add", "jane"], USAGE),
    (["admin", "remove", ANN, CHAN], USAGE),
    (["admin", "promote", ANN], USAGE),
]


@pytest.mark.parametrize(("tokens", "expected"), TABLE, ids=[" ".join(map(str, t)) or "(empty)" for t, _ in TABLE])
def test_grammar(tokens: list[str | Mention], expected: Command) -> None:
    assert parse(tokens) == expected


def test_after_a_command_word_the_platform_gave_no_words_means_start() -> None:
    """Slack's /share-check carries the command word itself: alone it starts, with words it is those words."""
    assert parse([], after_command_word=True) == Start()
    assert parse(["pending"], after_command_word=True) == Pending()
    assert parse(["hello"], after_command_word=True) == Help()


def test_mentions_take_the_place_of_their_text() -> None:
    # Slack puts escaped mentions in the text; Teams puts <at>…</at> and sends the ids as entities
    slack = "admin lead add <@ULEAD|jo> <@UANN|ann> <#CGEN|general>"
    mentions: list[tuple[str, Mention]] = [("<@ULEAD|jo>", LEAD), ("<@UANN|ann>", ANN), ("<#CGEN|general>", CHAN)]
    assert tokenize(slack, mentions) == ["admin", "lead", "add", LEAD, ANN, CHAN]
    teams = "admin lead add <at>Jo Lead</at> <at>Ann Smith</at>"
    assert parse_text(teams, [("<at>Jo Lead</at>", LEAD), ("<at>Ann Smith</at>", ANN)]) == Admin(
        action=AdminAction.LEAD_ADD, lead="ULEAD", users=("UANN",)
    )


def test_the_same_mention_twice_and_a_mention_not_in_the_text() -> None:
    text = "<at>Ann</at> or <at>Ann</at>"
    assert tokenize(text, [("<at>Ann</at>", ANN), ("<at>Ann</at>", ANN)]) == [ANN, "or", ANN]
    assert tokenize("admin add", [("<at>Gone</at>", BOB)]) == ["admin", "add", BOB]
    assert tokenize(None) == []


def test_a_long_case_reference_is_cut_to_what_a_case_reference_can_be() -> None:
    command = parse_text("revoke " + "X" * 500)
    assert isinstance(command, Revoke) and command.case_reference == "X" * 200
