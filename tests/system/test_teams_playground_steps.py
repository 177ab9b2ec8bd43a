"""The demo pack's form, confirmation list and review in Microsoft's own offline Teams client (the Agents
Playground), pressed in its web page as a practitioner would. See test_teams_playground.py for the set-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.playground import (
    ARTIFACTS,
    Playground,
    Stack,
    open_playground,
    screenshot,
    serve_with_playground,
    text_of,
    title_of,
)
from tests.support.teams import step_of

pytestmark = pytest.mark.browser

PACKS = Path(__file__).parent.parent / "data" / "packs"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = {"SHARECHECK_CONTENT_DIR": str(PACKS), "SHARECHECK_CONTENT_PACK": "steps-demo"}
    with serve_with_playground(tmp_path_factory.mktemp("playground-steps"), settings) as running:
        yield running


@pytest.fixture(scope="module")
def playground(stack: Stack) -> Iterator[Playground]:
    with open_playground(stack) as page:
        yield page


def _next(playground: Playground, before: int, step: str | None) -> dict[str, Any]:
    """The card the last press brought: the step ``step`` (None: the summary)."""
    if step is None:
        return playground.card_after(before, "the summary", lambda c: "Decision recorded" in text_of(c))  # type: ignore[no-any-return]
    return playground.card_after(before, f"step {step}", lambda c: step_of(c) == step)  # type: ignore[no-any-return]


def _invokes(playground: Playground) -> list[dict[str, Any]]:
    """The data of every Action.Execute the Playground sent, oldest first (as Teams merges the inputs into it)."""
    return [
        ex.request["value"]["action"]["data"]
        for ex in playground.traffic.exchanges
        if ex.name == "invoke" and not ex.outgoing and isinstance(ex.request.get("value"), dict)
    ]


def test_form_confirmation_list_and_review_in_the_playground(stack: Stack, playground: Playground) -> None:
    playground.card_after(0, "the welcome card", lambda c: "Hello, I'm ShareCheck" in text_of(c))
    card = _next(playground, playground.say("share-check"), "start")
    shown = playground.shown(title_of(card))

    def pick(question: str, answer: str) -> None:
        shown.get_by_role("radiogroup", name=question).get_by_label(answer, exact=True).check()

    def press(title: str) -> int:
        before = len(playground.traffic.cards())
        shown.get_by_role("button", name=title, exact=True).first.click()
        return before

    # the form: one card, an input per question; the client itself holds back a required question left empty
    pick("Is anyone in immediate danger now?", "No")
    sent = len(_invokes(playground))
    press("Continue")
    shown.get_by_text("Choose one.", exact=True).wait_for()
    assert len(_invokes(playground)) == sent, "nothing was sent with a required question unanswered"
    screenshot(playground, "teams-playground-form")
    pick("Were you asked for this information?", "I was asked for it")
    card = _next(playground, press("Continue"), "gates")
    assert _invokes(playground)[-1] | {"check_id": None} == {
        "sc_verb": "answer",
        "check_id": None,
        "step_id": "start",
        "revision": 0,
        "sc_form": ["immediate_danger", "request_context"],
        "sc_fc_immediate_danger": "no",
        "sc_fc_request_context": "asked",
    }
    shown = playground.shown(title_of(card))
    pick("Is there a clear safeguarding purpose?", "Yes")
    pick("If you did not share, would a child be at risk of harm?", "Yes")
    card = _next(playground, press("Continue"), "decision")
    shown = playground.shown(title_of(card))
    card = _next(playground, press("Share"), "what")
    shown = playground.shown(title_of(card))
    shown.locator("textarea").first.fill("A summary of the concern, roles only.")
    card = _next(playground, press("Continue"), "recipient")
    shown = playground.shown(title_of(card))
    shown.get_by_label("Organisation").fill("Northshire Police")
    shown.get_by_label("Role (no names needed)").fill("MASH detective sergeant")
    card = _next(playground, press("Continue"), "before_send")

    # the confirmation list: one statement ticked, the two left unticked lead to their follow-ups
    shown = playground.shown(title_of(card))
    shown.get_by_role("checkbox", name="It is relevant to the concern").check()
    screenshot(playground, "teams-playground-confirm-list")
    card = _next(playground, press("Confirm ticked"), "whole_file_reason")
    assert _invokes(playground)[-1]["sc_ticks"] == "relevant"
    shown = playground.shown(title_of(card))
    shown.locator("textarea, input[type=text]").first.fill("The recipient needs the chronology.")
    card = _next(playground, press("Continue"), "remove_details")
    shown = playground.shown(title_of(card))
    card = _next(playground, press("I will remove them"), "case_reference")
    shown = playground.shown(title_of(card))
    shown.locator("input[type=text]").first.fill("CS-2024-0113")
    card = _next(playground, press("Continue"), "review")

    # the review: the record, Save, and 'Change an answer'
    shown = playground.shown("Check and save")
    shown.get_by_text("More than a summary").wait_for()
    shown.scroll_into_view_if_needed()
    screenshot(playground, "teams-playground-review")
    shown.get_by_role("button", name="Change an answer").click()
    shown.get_by_role("combobox").first.click()
    playground.page.get_by_role("option", name="Change: Before you send").click()
    screenshot(playground, "teams-playground-review-change")
    card = _next(playground, press("Change"), "before_send")
    assert _invokes(playground)[-1]["sc_change"] == "change:before_send"
    shown = playground.shown(title_of(card))
    assert shown.get_by_role("checkbox", name="It is relevant to the concern").is_checked(), (
        "ticked before, ticked again"
    )
    card = _next(playground, press("All true"), "review")
    all_true = _invokes(playground)[-1]
    assert all_true["sc_choice"] == "all_true"
    shown = playground.shown("Check and save")
    shown.get_by_text("A summary", exact=True).wait_for()
    done = _next(playground, press("Save"), None)
    assert "Decision recorded: Share" in text_of(done)

    refused = [ex for ex in playground.traffic.exchanges if ex.status >= 400 and ex.name != "message"]
    assert not refused, [(ex.name, ex.status, ex.response) for ex in refused]
    assert stack.refused_outgoing() == [], "the Playground tried to leave this machine"
    (ARTIFACTS / "playground-steps-invokes.json").write_text(json.dumps(_invokes(playground), indent=1))
