"""Typed text never becomes markup: what a sender types about the recipient and what a recipient types on the
receipt page reach the sender's and the lead's messages on Slack and Teams with no mention, command, link,
emphasis or quote made by typing (dialogs/text_safety.py). End to end through the real stacks and fakes."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.console import people as console_people
from adapters.receipt import csrf_token
from adapters.slack import render as slack
from adapters.teams import cards
from bot.checks.models import Actor
from bot.clock import ManualClock
from bot.db.models import Check, FollowUp
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.services.receipts import hash_token
from dialogs import text_safety
from dialogs.content import AnswerKind
from dialogs.engine import REVIEW
from dialogs.messages import SAVE
from dialogs.state import Recipient
from sharecheck.platforms import build_deliverers
from sharecheck.web import build_app
from tests.support.checks import answer_until
from tests.support.fake_connector import FakeConnector
from tests.support.fake_slack import FakeSlack, Message
from tests.support.receipts import LINK, PUBLIC_URL
from tests.support.slack_requests import Practitioner
from tests.support.slack_stack import drain, slack_stack
from tests.support.teams import EMULATOR, WORKSPACE, find_action, step_of
from tests.support.teams_followups import LEAD as TEAMS_LEAD
from tests.support.teams_followups import SENDER as TEAMS_SENDER
from tests.support.teams_followups import Teams, text_of

# What people type, each a way to make markup on some surface
FORGED_USER = "{user:U0000009}"
FORGED_COMMAND = "{command:disagree CS-1}"
ORGANISATION = f"{FORGED_USER} <@U0000009> <!channel> *bold* _x_ ~x~"
ROLE = f"MASH <http://evil.example|click> [x](http://evil.example) {FORGED_COMMAND}"
NAME = "*Jo* <!here> {user:U0000008}"
RESPONDENT_ORG = "_Police_ ~MASH~ [portal](http://evil.example)"
# no email address in it: the personal-data guard would refuse the whole answer first
NOTE = "Please re-send\n> it unencrypted to <https://evil.example/upload|us> at http://evil.example `now`"
PAYLOADS = [
    FORGED_USER,
    "<@U123>",
    "<!channel>",
    "*bold*",
    "_x_",
    "~x~",
    "> quote",
    "<http://evil|click>",
    "[x](http://evil)",
    FORGED_COMMAND,
]
SECRET = "test-secret-key-for-receipt-forms"
SLACK_SENDER, SLACK_LEAD, TEAM = "U0000001", "U00000LD", "T0000001"


# --- the rule, surface by surface ------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_slack_mrkdwn_keeps_code_tokens_and_makes_typed_ones_inert(payload: str) -> None:
    line = "{user:UAAA} shared with " + text_safety.typed(payload) + ". {command:disagree CS-2}"
    out = slack.mentions(line)
    assert out.startswith("<@UAAA> shared with ") and out.endswith("`/share-check disagree CS-2`")
    typed_part = out.removeprefix("<@UAAA> shared with ").removesuffix(". `/share-check disagree CS-2`")
    assert not re.search(r"[<>*_~`]", typed_part) and not typed_part.startswith("&gt;")
    assert "{user:" in typed_part or "{command:" in typed_part or "{" not in payload  # shown, not expanded
    assert "http://" not in typed_part


@pytest.mark.parametrize("payload", PAYLOADS)
def test_teams_and_console_show_typed_tokens_as_typed(payload: str) -> None:
    line = "{user:UAAA} shared with " + text_safety.typed(payload)
    teams = cards.people(line)
    assert teams == "A colleague shared with " + text_safety.plain(payload)
    assert console_people(line) == "@UAAA shared with " + text_safety.plain(payload)
    markdown = cards.render_info(cards.Info(title="t", lines=(line,)), "execute")["body"][1][
        "text"
    ]  # an in-turn reply: TextBlock markdown
    assert not re.search(r"(?<!\\)[*_~\[\]()<>`]", markdown.removeprefix("{user:UAAA} shared with "))


def test_the_rule_removes_direction_overrides_and_defangs_addresses() -> None:
    assert text_safety.plain("Police\u202e\u2066 HTTPS://x.example www.x.example\x07") == (
        "Police HTTPS[:]//x.example www[.]x.example"
    )
    assert text_safety.slack_mrkdwn("a\n  > b & <c>") == "a\n  \u203a b &amp; &lt;c&gt;"
    # typing the marks themselves cannot end the typed part early
    sneaky = text_safety.typed(f"x{text_safety.TYPED_END}{FORGED_USER}")
    assert slack.mentions(sneaky) == "x{user:U0000009}"
    # a typed part cut short by a length limit is still typed; marks never show
    assert slack.mentions(text_safety.typed(FORGED_USER)[:-1]) == FORGED_USER
    assert slack.escape(f"a{text_safety.TYPED_END}b") == "ab"


# --- Slack, end to end -----------------------------------------------------------------------------


def mrkdwn_texts(message: Message) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return found


def assert_inert_on_slack(message: Message, *typed: str) -> None:
    texts = mrkdwn_texts(message)
    whole = "\n".join(texts) + "\n" + message.text + json.dumps(message.blocks)
    for marker in ("<@U0000009>", "<@U0000008>", "<!channel>", "<!here>", "<http", "<mailto", "http://"):
        assert marker not in whole, marker
    for emphasis in ("*bold*", "_x_", "~x~", "*Jo*", "_Police_", "~MASH~", "`now`"):
        assert emphasis not in whole, emphasis
    assert "`/share-check disagree CS-1`" not in whole
    for text in texts:
        assert not any(line.lstrip().startswith(("&gt;", ">")) for line in text.splitlines()), text
    assert any(text_safety.slack_mrkdwn(t) in whole for t in typed), "the typed text is still shown"


@pytest.fixture
async def slack_parts(sqlite_url: str, clock: ManualClock) -> AsyncIterator[tuple[Runtime, FakeSlack, TestClient]]:
    async with slack_stack(sqlite_url, clock, sharecheck_public_url=PUBLIC_URL, sharecheck_secret_key=SECRET) as parts:
        await parts[0].leads.assign("slack", TEAM, SLACK_LEAD, "workspace", "", clock.now())
        yield parts


async def answer_receipt(client: TestClient, runtime: Runtime, token: str, **fields: str) -> None:
    form = {"csrf": csrf_token(runtime.receipts.secret_key, hash_token(token)), **fields}
    resp = await client.post(f"/r/{token}", data=form)
    assert resp.status == 200, await resp.text()


def slack_token(fake: FakeSlack, user: str) -> str:
    found = LINK.findall(json.dumps([m.blocks for m in fake.dms_to(user)]))
    assert found
    return str(found[-1])


async def test_typed_text_reaches_the_sender_and_the_lead_on_slack_as_text(
    slack_parts: tuple[Runtime, FakeSlack, TestClient], clock: ManualClock
) -> None:
    runtime, fake, client = slack_parts
    scheduler = Scheduler(runtime, build_deliverers(runtime), instance_id="typed")
    alice = Practitioner(client, fake, TEAM, SLACK_SENDER)
    recipient = Recipient(organisation=ORGANISATION, role=ROLE)
    try:
        await alice.start()
        await alice.complete(runtime.packs.pack(), {"decision": "share", "recipient": recipient})
        await drain(client)
        first = slack_token(fake, SLACK_SENDER)
        # the sender's own question names the recipient as they typed it
        before = len(fake.dms_to(SLACK_SENDER))
        clock.advance(timedelta(hours=4))
        await scheduler.run_once()
        [question] = fake.dms_to(SLACK_SENDER)[before:]
        assert_inert_on_slack(question, f"{ROLE}, {ORGANISATION}")
        # 'could not confirm' goes to the lead, naming the recipient
        await alice.click("sc:fu:could_not_confirm", question)
        await drain(client)
        await scheduler.run_once()
        [escalation] = fake.dms_to(SLACK_LEAD)
        assert_inert_on_slack(escalation, f"{ROLE}, {ORGANISATION}")
        # the recipient answers on the receipt page: the sender is told what they typed
        before = len(fake.dms_to(SLACK_SENDER))
        await answer_receipt(
            client, runtime, first, name=NAME, organisation=RESPONDENT_ORG, answer="clarification", unclear=NOTE
        )
        await scheduler.run_once()
        [notice] = fake.dms_to(SLACK_SENDER)[before:]
        assert_inert_on_slack(notice, NAME, RESPONDENT_ORG)
        assert any("\n\u203a it unencrypted" in t for t in mrkdwn_texts(notice))  # the typed quote, as text

        # another share, whose recipient says on the page the information never came: the lead is told
        colleague = Practitioner(client, fake, TEAM, "U0000003")
        await colleague.start()
        await colleague.complete(runtime.packs.pack(), {"decision": "share"})
        await drain(client)
        second = slack_token(fake, "U0000003")
        await answer_receipt(client, runtime, second, name=NAME, organisation=RESPONDENT_ORG, answer="no_information")
        await scheduler.run_once()
        to_lead = fake.dms_to(SLACK_LEAD)
        assert len(to_lead) == 2
        assert_inert_on_slack(to_lead[-1], NAME, RESPONDENT_ORG)
    finally:
        await scheduler.close()


# --- Teams, end to end -----------------------------------------------------------------------------


def assert_inert_on_teams(card: dict[str, Any], *typed: str) -> None:
    text = text_of(card) + " " + card.get("fallbackText", "")
    assert "Typing “disagree CS-1”" not in text  # a typed command token is not a command
    assert "http://" not in text
    assert all(node.get("type") != "TextBlock" or "evil" not in node.get("text", "") for node in walk(card))
    for value in typed:
        # shown as typed, tokens and all (the receipt page's fields are stored with braces as parentheses)
        shown = text_safety.plain(value)
        assert shown in text or shown.replace("{", "(").replace("}", ")") in text, value


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


@pytest.fixture
async def teams_runtime(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Runtime]:
    from tests.support.receipts import receipt_runtime

    async with receipt_runtime(sqlite_url, clock, **EMULATOR) as runtime:
        await runtime.leads.assign("teams", WORKSPACE, TEAMS_LEAD, "workspace", "", clock.now())
        yield runtime


async def teams_share(teams: Teams, recipient: Recipient) -> str:
    """The sender runs a check in Teams naming an outside recipient as typed on the card; returns the receipt token.
    The steps before and after the recipient are answered as any platform would (the Teams cards for them are
    tested with the Teams flow); the recipient and Save are pressed on the cards."""
    runtime = teams.runtime
    card = await teams.sender.say("share-check")
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check).where(Check.status == "active"))).one()
    actor = Actor(check.platform, check.workspace_id, check.user_id)
    await answer_until(runtime, actor, check.id, "recipient", {"decision": "share"})
    card = await teams.sender.say("resume")
    assert step_of(card) == "recipient" and runtime.packs.pack().step("recipient").kind is AnswerKind.RECIPIENT
    inputs = {"sc_org": recipient.organisation, "sc_role": recipient.role}
    card = await teams.sender.click(find_action(card, "answer"), inputs)
    await answer_until(runtime, actor, check.id, REVIEW)
    card = await teams.sender.say("resume")
    assert step_of(card) == REVIEW
    card = await teams.sender.click(find_action(card, "answer", sc_choice=SAVE))
    match = LINK.search(json.dumps(card))
    assert match is not None
    return match.group(1)


async def test_typed_text_reaches_the_sender_and_the_lead_on_teams_as_text(
    teams_runtime: Runtime, connector: FakeConnector, clock: ManualClock
) -> None:
    runtime = teams_runtime
    scheduler = Scheduler(runtime, build_deliverers(runtime), instance_id="typed-teams")
    async with TestClient(TestServer(build_app(runtime))) as client:
        teams = Teams(runtime, client, connector)
        await teams.hello(TEAMS_SENDER)
        await teams.hello(TEAMS_LEAD)
        try:
            first = await teams_share(teams, Recipient(organisation=ORGANISATION, role=ROLE))
            clock.advance(timedelta(hours=4))
            await scheduler.run_once()
            [question] = teams.cards_to(TEAMS_SENDER)
            assert_inert_on_teams(question, ROLE, ORGANISATION)
            await teams.execute(TEAMS_SENDER, find_action(question, "follow_up", sc_choice="could_not_confirm"))
            await scheduler.run_once()
            [escalation] = teams.cards_to(TEAMS_LEAD)
            assert_inert_on_teams(escalation, ROLE, ORGANISATION)

            since = len(connector.calls)
            await answer_receipt(
                client, runtime, first, name=NAME, organisation=RESPONDENT_ORG, answer="clarification", unclear=NOTE
            )
            await scheduler.run_once()
            [notice] = teams.cards_to(TEAMS_SENDER, since)
            assert_inert_on_teams(notice, NAME, RESPONDENT_ORG, NOTE)

            second = await teams_share(teams, Recipient(organisation="Northshire Police", role="MASH"))
            since = len(connector.calls)
            await answer_receipt(
                client, runtime, second, name=NAME, organisation=RESPONDENT_ORG, answer="no_information"
            )
            await scheduler.run_once()
            [to_lead] = teams.cards_to(TEAMS_LEAD, since)
            assert_inert_on_teams(to_lead, NAME, RESPONDENT_ORG)
        finally:
            await scheduler.close()
    async with runtime.sessions() as s:
        kinds = list(await s.scalars(select(FollowUp.kind)))
    assert kinds.count("sender_confirm") == 2


def test_a_fence_typed_into_the_reasons_cannot_close_the_slack_notes_block() -> None:
    notes = "Reasons: see below\n```\n*bold* <!channel> <http://evil.example|click>\n```"
    blocks = slack.to_dicts(slack.code_blocks(notes))
    for block in blocks:
        text = block["text"]["text"]
        assert text.startswith("```\n") and text.endswith("\n```")
        assert text.count("```") == 2, text  # only the block's own fences
        assert "<!channel>" not in text and "<http" not in text
