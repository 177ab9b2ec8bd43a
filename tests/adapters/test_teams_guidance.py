"""Guidance depth and receipt links on Teams (issues 10 and 11): a Teams chat in-process (typed text and presses
parsed as the agent parses them, the conversation layer, replies rendered as the Teams messenger renders them),
every card against the Adaptive Card 1.5 schema; the receipt page through the web app.

Myth-busters at the point of hesitation, the covering note on the summary, the receipt link and `revoke`,
and 'Reconsider with new information' on a 'do not share' summary."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.teams.agent import TEAMS
from adapters.teams.cards import COVERING_NOTE_ID, render
from bot.clock import ManualClock
from bot.conversation.handler import Conversation
from bot.conversation.replies import ShowNew
from bot.db.models import Check, CheckEvent, ReceiptLink
from bot.runtime import Runtime
from dialogs.content import load_pack
from dialogs.engine import Engine
from dialogs.messages import CitationView, MythView, Prompt
from sharecheck.web import build_app
from tests.support.adaptive_cards import HOSTILE, NOW, _text_blocks, assert_valid
from tests.support.flows import AnswerSpec
from tests.support.receipts import LINK, PUBLIC_URL, receipt_runtime
from tests.support.teams import EMULATOR, actions, card_answer, find_action, step_of
from tests.support.teams_chat import CardChat

Script = Mapping[str, AnswerSpec]
WORRIES = ("data_protection", "consent")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)


def chat(runtime: Runtime, style: Literal["execute", "submit"] = "execute") -> CardChat:
    return CardChat(Conversation(runtime, TEAMS), runtime.packs.engine(), style=style)


async def run_check(session: CardChat, script: Script) -> dict[str, dict[str, Any]]:
    """A whole check through cards, saved on the review: scripted answers by step or form field id, defaults
    otherwise (tests/support/teams.py card_answer).

    Returns the card shown after each step was answered (keyed by that step), and the last under 'end'.
    """
    card = await session.say("share-check")
    assert_valid(card)
    after: dict[str, dict[str, Any]] = {}
    while (step := step_of(card)) is not None:
        assert len(after) < 60
        act, inputs = card_answer(session.engine.pack, card, script)
        card = await session.click(act, inputs)
        assert_valid(card)
        after[step] = card
    after["end"] = card
    return after


def text_of(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


def myth_containers(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in card["body"] if b.get("type") == "Container" and b.get("style") == "emphasis" and "id" not in b]


def runs(block: dict[str, Any]) -> list[dict[str, Any]]:
    return [inline for item in block["items"] for inline in item["inlines"]]


def covering_note(card: dict[str, Any]) -> dict[str, Any]:
    [note] = [b for b in card["body"] if b.get("id") == COVERING_NOTE_ID]
    return note


def copied(container: dict[str, Any]) -> str:
    """The text a reader copies from a copyable container: its monospaced lines."""
    return "\n".join(
        run["text"] for item in container["items"] if item["type"] == "RichTextBlock" for run in item["inlines"]
    )


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_worries_at_hesitation_bring_myth_busters_with_their_source_and_authority(
    runtime: Runtime, style: Literal["execute", "submit"]
) -> None:
    session = chat(runtime, style)
    cards = await run_check(session, {"hesitation": WORRIES})
    pack = runtime.packs.pack()
    # the worries are ticked on the gates form: the answers come above the next question, the decision
    shown = cards["gates"]
    assert step_of(shown) == "decision"
    boxes = myth_containers(shown)
    assert len(boxes) == len(WORRIES)
    for box, worry in zip(boxes, WORRIES, strict=True):
        myth = pack.myth(worry)
        title, text, source = runs(box)
        assert title["text"] == myth.title and title["weight"] == "Bolder"
        assert text["text"] == " ".join(myth.text.split()) or text["text"] == myth.text
        assert source["text"].startswith("Source: ") and source["isSubtle"] and source["size"] == "Small"
        assert re.search(r"\(\d{4}\).*\[[a-z -]+\]$", source["text"]), source["text"]
    # above the question, and not shown again on the step after
    body = shown["body"]
    question = next(n for n, b in enumerate(body) if b.get("type") == "TextBlock" and b.get("size") == "Medium")
    assert all(body.index(box) < question for box in boxes)
    following = cards["decision"]
    assert not myth_containers(following)
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
    assert check.snapshot is not None


async def test_no_worry_no_myth(runtime: Runtime) -> None:
    session = chat(runtime)
    cards = await run_check(session, {"hesitation": ("none",)})
    assert not any(myth_containers(card) for card in cards.values())


def test_myth_text_is_plain_and_every_citation_shows_its_authority() -> None:
    engine = Engine(load_pack("children-england-2024"))
    state = engine.start(NOW).state
    prompt = engine.view(state)
    assert isinstance(prompt, Prompt)
    cite = CitationView(title=HOSTILE, publisher="HM Government", year=2024, authority="statutory guidance")
    hostile = prompt.model_copy(update={"myths": (MythView(title=HOSTILE, text=HOSTILE, citation=cite),)})
    for style in ("execute", "submit"):
        card = render(hostile, style)  # type: ignore[arg-type]
        assert_valid(card)
        assert not any("evil.example" in t for t in _text_blocks(card)), "myths are TextRuns, never markdown"
    # every source shown on any step names what kind of source it is
    for step in engine.pack.steps:
        view = engine.view(state.model_copy(update={"step": step.id, "history": [engine.pack.start]}))
        assert isinstance(view, Prompt)
        for source in re.findall(r'"Source: [^"]*"', text_of(render(view, "execute"))):
            assert re.search(r"\[[a-z -]+\]\"$", source), source


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_a_share_summary_carries_the_covering_note_to_copy(
    runtime: Runtime, style: Literal["execute", "submit"]
) -> None:
    session = chat(runtime, style)
    summary = (await run_check(session, {}))["end"]
    note = covering_note(summary)
    assert note["type"] == "Container" and note["isVisible"] is False, "behind its toggle, not an editable box"
    assert note["items"][0]["text"] == runtime.packs.pack().covering_note.title  # type: ignore[union-attr]
    lines = copied(note).splitlines()
    assert lines[0] == "Case reference: CS-2024-0113"
    assert re.fullmatch(r"Please confirm .* by \w+day \d{2} \w+ \d{4}\.", lines[-1]), lines[-1]
    assert "/r/" not in copied(note), "no public URL set: no receipt link"
    sets = [b for b in summary["body"] if b["type"] == "ActionSet"]
    toggles = [a for b in sets for a in b["actions"] if a["type"] == "Action.ToggleVisibility"]
    assert [t["targetElements"] for t in toggles] == [["sc_case_notes"], [COVERING_NOTE_ID]]
    assert not [a for a in actions(summary) if a["data"].get("sc_verb") == "reconsider"], "a share is not reconsidered"


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_receipt_link_on_the_summary_and_revoke_withdraws_it(
    db_url: str, clock: ManualClock, style: Literal["execute", "submit"]
) -> None:
    async with receipt_runtime(db_url, clock, **EMULATOR) as rt, TestClient(TestServer(build_app(rt))) as client:
        session = chat(rt, style)
        summary = (await run_check(session, {}))["end"]
        note = copied(covering_note(summary))
        match = LINK.search(note)
        assert match is not None and match.group(0).startswith(PUBLIC_URL), note
        token = match.group(1)
        opens = [a for a in summary["actions"] if a["type"] == "Action.OpenUrl" and a["url"] == match.group(0)]
        assert opens, "the receipt link is also a button on the summary"
        assert "revoke" in text_of(summary)
        assert (await client.get(f"/r/{token}")).status == 200

        card = await session.say("revoke CS-2024-0113")
        assert_valid(card)
        assert "Revoked 1 receipt link for case CS-2024-0113" in text_of(card)
        assert (await client.get(f"/r/{token}")).status == 404
        async with rt.sessions() as s:
            link = (await s.scalars(select(ReceiptLink))).one()
            revoked = await s.scalar(select(CheckEvent).where(CheckEvent.kind == "receipt_link_revoked"))
        assert link.revoked_at is not None and revoked is not None

        # again: nothing left to revoke, said plainly; a typed reference is never markdown
        again = await session.say("revoke CS-2024-0113")
        assert_valid(again)
        assert "No live receipt link of yours for case CS-2024-0113" in text_of(again)
        odd = await session.say("share-check revoke **CS_1**")
        assert_valid(odd)
        assert "**CS_1**" in text_of(odd) and not any("CS_1" in t for t in _text_blocks(odd))
        usage = await session.say("revoke")
        assert "revoke CS-2024-0113" in text_of(usage)


async def test_revoke_is_in_the_help(runtime: Runtime) -> None:
    session = chat(runtime)
    card = await session.say("help")
    assert_valid(card)
    text = text_of(card)
    assert "**share-check revoke CASE-REF**" in text
    assert text.index("revoke CASE-REF") < text.index("**share-check help**")


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_reconsider_a_do_not_share_decision_starts_a_linked_check(
    runtime: Runtime, style: Literal["execute", "submit"]
) -> None:
    session = chat(runtime, style)
    summary = (await run_check(session, {"decision": ("not_share",)}))["end"]
    assert not [b for b in summary["body"] if b.get("id") == COVERING_NOTE_ID], "no covering note without sharing"
    press = find_action(summary, "reconsider")
    assert press["title"] == "Reconsider with new information"
    async with runtime.sessions() as s:
        first = (await s.scalars(select(Check))).one()
    assert first.decision == "not_share" and press["data"]["check_id"] == str(first.id)

    card = await session.click(press)
    assert_valid(card)
    assert "linked to the earlier decision" in text_of(card)
    assert isinstance(session.last, ShowNew), "a new message: the summary it was started from stays"
    new_id = find_action(card, "cancel")["data"]["check_id"]
    assert new_id != str(first.id)
    async with runtime.sessions() as s:
        back = await s.scalar(
            select(CheckEvent).where(CheckEvent.check_id == first.id, CheckEvent.kind == "reconsidered")
        )
        started = await s.scalar(
            select(CheckEvent).where(CheckEvent.check_id == uuid.UUID(new_id), CheckEvent.kind == "started")
        )
    assert back is not None and back.data["by"] == new_id
    assert started is not None and started.data["reconsiders"] == str(first.id)

    # pressed again while the new check is open: refused politely, on the check in progress
    refused = await session.click(press)
    assert_valid(refused)
    assert "Finish or cancel the check you have in progress first" in text_of(refused)
    assert isinstance(session.last, ShowNew)
    assert find_action(refused, "cancel")["data"]["check_id"] == new_id
    async with runtime.sessions() as s:
        assert len(list(await s.scalars(select(Check)))) == 2
