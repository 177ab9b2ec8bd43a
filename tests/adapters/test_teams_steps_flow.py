"""The demo pack's form, confirmation list and review walked through Teams: real Activity JSON into /api/messages,
the real Agents SDK stack, cards out to the fake Bot Framework connector, answers sent as Teams sends them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.db.models import Check, CheckEvent
from bot.runtime import Runtime
from tests.support.adaptive_cards import assert_valid, inputs
from tests.support.fake_connector import FakeConnector
from tests.support.teams import EMULATOR, Session, find_action, press, step_of

PACKS = Path(__file__).parent.parent / "data" / "packs"
STALE = "That was already done, so nothing changed: this is where your check is now."


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**EMULATOR, "sharecheck_content_dir": PACKS, "sharecheck_content_pack": "steps-demo"}


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def _events(runtime: Runtime) -> int:
    async with runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(CheckEvent)) or 0)


def _form(card: dict[str, Any], **values: str) -> dict[str, str]:
    """The input values Teams sends with a form's Continue: each field's input by its id; empty ones as ''."""
    shown = inputs(card)
    sent = {input_id: "" for input_id in shown}
    for field, value in values.items():
        [input_id] = [i for i in (f"sc_fc_{field}", f"sc_ft_{field}") if i in shown]
        sent[input_id] = value
    return sent


def _notice(card: dict[str, Any]) -> str:
    """The red line above the question (a refusal or a stale answer)."""
    red = [b for b in card["body"] if b["type"] == "RichTextBlock" and b["inlines"][0].get("color") == "Attention"]
    return str(red[0]["inlines"][0]["text"]) if red else ""


def _lines(card: dict[str, Any]) -> dict[str, str]:
    """The review's record lines, label -> value."""
    return {
        b["inlines"][0]["text"].removesuffix(": "): b["inlines"][1]["text"]
        for b in card["body"]
        if b["type"] == "RichTextBlock" and len(b["inlines"]) == 2 and b["inlines"][0].get("weight") == "Bolder"
    }


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_forms_confirmation_list_and_review_through_teams(
    runtime: Runtime, client: TestClient[Any, Any], connector: FakeConnector, style: Literal["execute", "submit"]
) -> None:
    session = Session(client, connector, runtime.packs.engine(), style=style)
    first = await session.say("share-check")
    assert step_of(first) == "start" and set(inputs(first)) == {"sc_fc_immediate_danger", "sc_fc_request_context"}
    go = find_action(first, "answer")

    # the form: one field left out is refused with its own reason; the one given is kept
    events = await _events(runtime)
    card = await session.click(go, _form(first, immediate_danger="no"))
    assert step_of(card) == "start" and await _events(runtime) == events
    assert _notice(card) == "Were you asked for this information? Please choose one."
    fields = inputs(card)
    assert fields["sc_fc_immediate_danger"]["value"] == "no" and "value" not in fields["sc_fc_request_context"]
    card = await session.click(find_action(card, "answer"), _form(card, immediate_danger="no", request_context="asked"))
    assert step_of(card) == "gates" and set(inputs(card)) == {"sc_fc_purpose", "sc_fc_risk_of_harm"}
    # the first card pressed again, long after: nothing changes, and the card on screen says why
    events = await _events(runtime)
    again = await session.click(go, _form(first, immediate_danger="yes", request_context="asked"))
    assert step_of(again) == "gates" and _notice(again) == STALE and await _events(runtime) == events

    # a double submit of a form records it once
    gates = card
    card = await session.click(find_action(gates, "answer"), _form(gates, purpose="yes", risk_of_harm="yes"))
    assert step_of(card) == "decision"
    events = await _events(runtime)
    twice = await session.click(find_action(gates, "answer"), _form(gates, purpose="no", risk_of_harm="no"))
    assert step_of(twice) == "decision" and _notice(twice) == STALE and await _events(runtime) == events

    card = await session.click(find_action(card, "answer", sc_choice="share"))
    card = await session.click(find_action(card, "answer"), {"sc_text": "A summary of the concern, roles only."})
    card = await session.click(
        find_action(card, "answer"), {"sc_org": "Northshire Police", "sc_role": "MASH detective sergeant"}
    )

    # the confirmation list: each statement left unticked leads to its own follow-up, in list order
    assert step_of(card) == "before_send"
    confirm = card
    card = await session.click(find_action(confirm, "answer", sc_choice=None), {"sc_ticks": "relevant"})
    assert step_of(card) == "whole_file_reason"
    card = await session.click(find_action(card, "answer"), {"sc_text": "The recipient needs the chronology."})
    assert step_of(card) == "remove_details"
    card = await session.click(find_action(card, "answer", sc_choice="continue"))
    assert step_of(card) == "case_reference"
    card = await session.click(find_action(card, "answer"), {"sc_text": "CS-2024-0113"})

    # the review: the record as it will be saved
    assert step_of(card) == "review"
    assert_valid(card)
    lines = _lines(card)
    assert lines["How much is shared"] == "More than a summary" and lines["Identities protected"] == "Not confirmed"
    assert lines["Case reference"] == "CS-2024-0113" and not any(label.startswith("Lawful basis") for label in lines)

    # change an answer: what depends on it is asked again, with the rest filled in; the others are carried on
    card = await session.click(
        find_action(card, "answer", step_id="review", sc_choice=None), {"sc_change": "change:start"}
    )
    assert step_of(card) == "start" and inputs(card)["sc_fc_request_context"]["value"] == "asked"
    card = await session.click(
        find_action(card, "answer"), _form(card, immediate_danger="no", request_context="own_initiative")
    )
    assert step_of(card) == "gates", "the lawful basis is now asked, so the gates form comes again"
    fields = inputs(card)
    assert "sc_fc_lawful_basis" in fields and fields["sc_fc_purpose"]["value"] == "yes"
    card = await session.click(
        find_action(card, "answer"), _form(card, purpose="yes", risk_of_harm="yes", lawful_basis="public_task")
    )
    assert step_of(card) == "review", "nothing after the gates depends on them: straight back to the review"
    assert _lines(card)["Lawful basis (UK GDPR Article 6)"] == "Public task"

    card = await session.click(
        find_action(card, "answer", step_id="review", sc_choice=None), {"sc_change": "change:before_send"}
    )
    assert step_of(card) == "before_send" and inputs(card)["sc_ticks"]["value"] == "relevant"
    card = await session.click(find_action(card, "answer", sc_choice="all_true"))
    assert step_of(card) == "review"
    lines = _lines(card)
    assert lines["How much is shared"] == "A summary" and lines["Identities protected"] == "Confirmed"
    assert "Could less do" not in lines, "the follow-up's answer no longer applies"

    # Save records the decision
    async with runtime.sessions() as s:
        assert (await s.scalars(select(Check))).one().status == "active"
    review = card
    done = await session.click(find_action(review, "answer", sc_choice="save"))
    assert any(b.get("id") == "sc_case_notes" for b in done["body"]), "the summary, with its case notes"
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
    assert check.status == "completed" and check.decision == "share" and check.case_reference == "CS-2024-0113"
    assert check.snapshot is not None and check.snapshot["decision"] == "share"

    # Save pressed twice: recorded once
    events = await _events(runtime)
    resp = await client.post(
        "/api/messages", json=press(find_action(review, "answer", sc_choice="save"), {}, connector.url, session.card_id)
    )
    assert resp.status in (200, 202) and await _events(runtime) == events


async def test_a_tampered_form_changes_nothing(
    runtime: Runtime, client: TestClient[Any, Any], connector: FakeConnector
) -> None:
    session = Session(client, connector, runtime.packs.engine(), style="execute")
    first = await session.say("share-check")
    events = await _events(runtime)
    # a field the form does not ask: refused by the engine, with the form shown again
    card = await session.click(
        find_action(first, "answer"),
        {**_form(first, immediate_danger="no", request_context="asked"), "sc_form": ["immediate_danger", "other"]},
    )
    assert step_of(card) == "start" and _notice(card) and await _events(runtime) == events
    # a choice that is not offered: that field's own reason
    card = await session.click(
        find_action(card, "answer"), _form(card, immediate_danger="maybe", request_context="asked")
    )
    assert step_of(card) == "start" and await _events(runtime) == events
    fields = inputs(card)
    assert fields["sc_fc_request_context"]["value"] == "asked"
    at = next(i for i, b in enumerate(card["body"]) if b.get("id") == "sc_fc_immediate_danger")
    assert card["body"][at + 1]["inlines"][0]["color"] == "Attention"
