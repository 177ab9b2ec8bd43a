"""Guidance depth and receipt links on Slack end to end (issues 10 and 11): myth-busters at the point of hesitation,
the covering note on the summary, the receipt link and `/share-check revoke`, and 'reconsider with new information'.

Signed requests through the real slack-bolt stack; what the bot sends is read back from the fake Web API, and every
new block set is round-tripped through slack_sdk.models.blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from dialogs.content import Authority
from tests.support.fake_slack import FakeSlack, Message
from tests.support.receipts import LINK, ORGANISATION, PUBLIC_URL
from tests.support.slack_requests import Practitioner, elements
from tests.support.slack_stack import drain, slack_stack

TEAM = "T0000001"
ALICE = "U0000001"
Stack = tuple[Runtime, FakeSlack, TestClient[Any, Any]]
NOT_SHARE = {"case_reference": "CS-88", "request_context": "own_initiative", "decision": "not_share"}
PLEASE_CONFIRM = re.compile(r"Please confirm .* by \w+ \d{1,2} \w+ \d{4}\.$")


@pytest.fixture
async def stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    async with slack_stack(sqlite_url, clock) as parts:
        yield parts


@pytest.fixture
async def public_stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    """A deployment with a public URL: shares with other agencies get a receipt link."""
    async with slack_stack(
        sqlite_url,
        clock,
        sharecheck_public_url=PUBLIC_URL,
        sharecheck_organisation_name=ORGANISATION,
        sharecheck_secret_key="test-secret-key-for-receipt-forms",
    ) as parts:
        yield parts


def round_trip(blocks: list[dict[str, Any]]) -> None:
    for d in blocks:
        parsed = Block.parse(d)
        assert parsed is not None, d
        assert parsed.to_dict() == d


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """The mrkdwn of each section and context block, in order."""
    out: list[str] = []
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.extend(e["text"] for e in block["elements"] if "text" in e)
    return out


async def finish(stack: Stack, script: dict[str, Any]) -> tuple[Practitioner, Message, Message]:
    """A finished check: its summary, and the second message with the notes to copy."""
    runtime, fake, client = stack
    alice = Practitioner(client, fake, TEAM, ALICE)
    await alice.start()
    await alice.complete(runtime.packs.pack(), script)
    await drain(client)
    summary, notes = alice.dm_messages()[-2:]
    round_trip(summary.blocks)
    round_trip(notes.blocks)
    return alice, summary, notes


def covering_note(summary: Message) -> tuple[str, str]:
    """The covering note's title and the text in its copy-friendly block(s)."""
    lines = texts(summary.blocks)
    at = next(i for i, t in enumerate(lines) if t.startswith("*Covering note"))
    body = []
    for text in lines[at + 1 :]:
        if not text.startswith("```"):
            break
        body.append(text.removeprefix("```\n").removesuffix("\n```"))
    return lines[at], "\n".join(body)


# --- myth-busters at the point of hesitation -----------------------------------------------------


async def test_myth_busters_show_above_the_next_question_with_source_and_authority(stack: Stack) -> None:
    _, fake, _ = stack
    await finish(stack, {"hesitation": ("data_protection", "criticism")})
    shown = [c.args["blocks"] for c in fake.calls_to("chat.update") if ":bulb:" in json.dumps(c.args["blocks"])]
    assert len(shown) == 1, "shown once, on the message right after the worry"
    blocks = shown[0]
    round_trip(blocks)
    lines = texts(blocks)
    myths = [i for i, t in enumerate(lines) if t.startswith(":bulb: *")]
    assert len(myths) == 2
    # the worries are ticked on the gates form; the decision is the question that follows it
    question = next(i for i, t in enumerate(lines) if t.startswith("*What have you decided?"))
    assert max(myths) < question, "myths come above the question"
    for i in myths:
        title, _, body = lines[i].partition("\n")
        assert title.endswith("*") and body.strip() and "<" not in body.replace("&lt;", "")
        source = lines[i + 1]
        assert source.startswith("Source: ") and re.search(r"\[[a-z -]+\]", source), source
    # the next answer replaces them: no message still shows a myth-buster
    assert all(":bulb:" not in json.dumps(m.blocks) for m in fake.messages.values())


async def test_citations_on_guidance_carry_their_authority(stack: Stack) -> None:
    _, fake, _ = stack
    await finish(stack, {})
    sources = [
        t
        for c in fake.calls_to("chat.update")
        for t in texts(c.args["blocks"])
        if t.startswith(("Source: ", "Sources: "))
    ]
    assert sources
    labels = "|".join(re.escape(a.label) for a in Authority)
    for line in sources:
        # every citation in the line (several are joined with '; ') ends in its authority label
        for one in line.split(": ", 1)[1].split("; "):
            assert re.search(rf"\[({labels})\]( <[^>]+\|read>)?$", one), one


# --- the covering note and the receipt link -------------------------------------------------------


async def test_a_share_summary_carries_the_covering_note_to_copy(stack: Stack) -> None:
    _, summary, notes = await finish(stack, {"decision": "share"})
    title, note = covering_note(notes)
    assert title == "*Covering note (paste into the secure email, or read it out)*"
    assert "CS-2024-0113" in note and "check with me before sharing it further" in note
    assert PLEASE_CONFIRM.search(note.splitlines()[-1]), note
    lines = texts(notes.blocks)
    assert lines.index(title) > lines.index("*Copy this into the case notes:*"), "under the case notes"
    assert "Covering note" not in json.dumps(summary.blocks), "the summary stays short: notes in the next message"
    assert "/r/" not in json.dumps([summary.blocks, notes.blocks]), "no public URL, no receipt link"
    assert "sc:reconsider" not in json.dumps(summary.blocks)


async def test_the_receipt_link_is_on_the_summary_and_revoke_withdraws_it(public_stack: Stack) -> None:
    runtime, fake, client = public_stack
    alice, summary, notes = await finish(public_stack, {"decision": "share"})
    _, note = covering_note(notes)
    match = LINK.search(note)
    assert match is not None, note
    token = match.group(1)
    assert PLEASE_CONFIRM.search(note.splitlines()[-2]), note
    # also among the summary's links, as a real link
    assert f"<{PUBLIC_URL}/r/{token}|Receipt link for the recipient" in json.dumps(summary.blocks)
    assert (await client.get(f"/r/{token}")).status == 200

    answered = len(fake.calls_to("response_url"))  # replies to this person where they typed, so far
    await alice.command("revoke CS-2024-0113")
    calls = await fake.wait_calls("response_url", answered + 1)
    answer = calls[-1].args
    assert answer["response_type"] == "ephemeral"
    round_trip(answer["blocks"])
    assert "Revoked 1 receipt link for case CS-2024-0113" in json.dumps(answer["blocks"])
    assert (await client.get(f"/r/{token}")).status == 404
    async with runtime.sessions() as s:
        kinds = list(await s.scalars(select(CheckEvent.kind)))
    assert "receipt_link_revoked" in kinds

    # again: the service's words, nothing revoked (what else revoke says is the conversation's, tested there)
    await alice.command("revoke CS-2024-0113")
    calls = await fake.wait_calls("response_url", answered + 2)
    assert "No live receipt link of yours for case CS-2024-0113." in texts(calls[-1].args["blocks"])


# --- not sharing: reconsider with new information -------------------------------------------------


async def test_reconsider_opens_a_new_check_linked_to_the_first(stack: Stack) -> None:
    runtime, _, client = stack
    alice, summary, notes = await finish(stack, NOT_SHARE)
    assert [e["action_id"] for e in elements(summary)] == ["sc:reconsider"]
    assert "Covering note" not in json.dumps([summary.blocks, notes.blocks])
    [first] = [c.id for c in await _checks(runtime)]

    before = len(alice.dm_messages())
    await alice.click("sc:reconsider", summary)
    await drain(client)
    opened = alice.dm_messages()
    assert len(opened) == before + 1
    new = opened[-1]
    round_trip(new.blocks)
    assert "linked to the earlier decision" in json.dumps(new.blocks)
    assert any(e["action_id"] == "sc:urgent" for e in elements(new)), "a normal check message"
    checks = await _checks(runtime)
    assert len(checks) == 2
    second = next(c for c in checks if c.id != first)
    assert second.status == "active" and second.user_id == ALICE
    async with runtime.sessions() as s:
        back = await s.scalar(select(CheckEvent).where(CheckEvent.check_id == first, CheckEvent.kind == "reconsidered"))
    assert back is not None and back.data["by"] == str(second.id)

    # a second click while that check is in progress: that check, in a new message saying why to finish it first
    await alice.click("sc:reconsider", summary)
    await drain(client)
    assert len(alice.dm_messages()) == before + 2 and len(await _checks(runtime)) == 2
    shown = alice.dm_messages()[-1]
    assert "Finish or cancel the check you have in progress" in json.dumps(shown.blocks)
    assert json.loads(elements(shown)[0]["value"])["c"] == str(second.id)


async def test_someone_else_cannot_reconsider_my_decision(stack: Stack) -> None:
    runtime, fake, client = stack
    _, summary, _ = await finish(stack, NOT_SHARE)
    bob = Practitioner(client, fake, TEAM, "U0000002")
    await bob.click("sc:reconsider", summary)
    await drain(client)
    [refusal] = fake.calls_to("chat.postEphemeral")
    assert refusal.args["user"] == "U0000002" and "nothing was reopened" in refusal.args["text"]
    assert len(await _checks(runtime)) == 1


async def _checks(runtime: Runtime) -> list[Check]:
    async with runtime.sessions() as s:
        return list(await s.scalars(select(Check)))
