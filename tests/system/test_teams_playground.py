"""Teams through Microsoft's own offline client: the Microsoft 365 Agents Playground, driven in Debian's chromium.

``sharecheck serve`` runs as it would for a newcomer (emulator mode, loopback), the Playground from the npm
registry (pinned, tests/system/playground/package-lock.json, installed with ``npm ci``) talks to it as Teams does
(Action.Execute invokes, its own validating connector), and Playwright presses the buttons in its web page: a whole
check, ``pending``, ``digest``, then the received-and-understood follow-up arriving and answered.

Everything stays on 127.0.0.1: the Playground's telemetry is off (``--disable-telemetry`` and
``APPLICATION_INSIGHTS_NO_STATSBEAT=true``), a preloaded script (playground/loopback.js) binds its servers to
127.0.0.1 and refuses any other connection in or out, and the browser's requests to any other host are aborted.
Screenshots go to tests/artifacts/ and, with SHARECHECK_REFRESH_DOCS=1, to docs/teams-playground-*.png.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.support.flows import SHARE_SCREENS
from tests.support.playground import (
    Playground,
    Stack,
    open_playground,
    screenshot,
    serve_with_playground,
    text_of,
    title_of,
)
from tests.support.teams import actions, find_action, step_of

pytestmark = pytest.mark.browser

PACK = "children-england-2024"
PLAYGROUND_USER = "user-id-0"
"""The Playground's default user (Alex Wilber in its default configuration): made the default lead, for `digest`."""
FOLLOW_UP_TITLE = "Did it arrive, and was it understood?"
WHAT = "Bruising the teacher saw on 3 Dec, so the social worker can assess today."


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = {
        "SHARECHECK_CONTENT_PACK": PACK,
        "SHARECHECK_WORKING_HOURS": "always",
        "SHARECHECK_CONFIRM_AFTER": "20",  # the follow-up comes 20 s after the check: `pending` shows it waiting
        "SHARECHECK_SCHEDULER_INTERVAL": "1",
        "SHARECHECK_DEFAULT_LEAD": f"teams:{PLAYGROUND_USER}",
    }
    with serve_with_playground(tmp_path_factory.mktemp("playground"), settings) as running:
        yield running


def of_the_check(card: dict[str, Any]) -> bool:
    """A step of the check or its summary (not a digest or notice that arrived meanwhile)."""
    return step_of(card) is not None or "Decision recorded" in text_of(card)


@pytest.fixture(scope="module")
def playground(stack: Stack) -> Iterator[Playground]:
    with open_playground(stack) as page:
        yield page


@pytest.fixture(scope="module")
def finished(playground: Playground) -> dict[str, Any]:
    """The common share path of the default pack through the page, as a practitioner answers it (forms field by
    field, the 'before you send' list in one click, the review's Save); returns the summary card."""
    # the Playground installs the app on every page load: the welcome card, with its start button
    welcome = playground.card_after(0, "the welcome card", lambda c: "Hello, I'm ShareCheck" in text_of(c))
    assert find_action(welcome, "start")["title"] == "Start a check"
    card = playground.card_after(playground.say("share-check"), "the first step", lambda c: step_of(c) is not None)
    walked: list[str] = []

    def on(step: str) -> Any:
        assert step_of(card) == step, (step_of(card), walked)
        walked.append(step)
        return playground.shown(title_of(card))

    def pick(shown: Any, question: str, answer: str) -> None:
        shown.get_by_role("radiogroup", name=question).get_by_label(answer, exact=True).check()

    def select(shown: Any, question: str, answer: str) -> None:
        # more than six choices: a drop-down
        shown.get_by_role("combobox", name=question).click()
        playground.page.get_by_role("option", name=answer, exact=True).click()

    def press(shown: Any, title: str, then: str | None) -> dict[str, Any]:
        before = len(playground.traffic.cards())
        shown.get_by_role("button", name=title, exact=True).first.click()
        if then is None:
            return playground.card_after(before, "the summary", of_the_check)  # type: ignore[no-any-return]
        return playground.card_after(before, f"step {then}", lambda c: step_of(c) == then)  # type: ignore[no-any-return]

    shown = on("start")
    pick(shown, "Is anyone in immediate danger now?", "No")
    pick(shown, "Were you asked for this information, or is it your own initiative?", "My own initiative")
    card = press(shown, "Continue", "gates")
    shown = on("gates")
    pick(shown, "Is there a clear safeguarding purpose for sharing?", "Yes")
    pick(shown, "If you did not share, would a child be at risk of harm?", "Yes")
    shown.locator("input[type=text]").first.fill("CS-2024-0113")
    card = press(shown, "Continue", "decision")
    shown = on("decision")
    card = press(shown, "Share", "what")
    shown = on("what")
    shown.locator("textarea, input[type=text]").first.fill(WHAT)
    card = press(shown, "Continue", "recipient")
    shown = on("recipient")
    shown.get_by_label("Organisation").fill("Northshire Police")
    shown.get_by_label("Role (no names needed)").fill("MASH detective sergeant")
    card = press(shown, "Continue", "how")
    shown = on("how")
    select(shown, "How will you send it?", "CJSM (Criminal Justice Secure eMail)")
    pick(shown, "When will you share it?", "Now, or today")
    select(shown, "Lawful basis (UK GDPR Article 6)", "Public task")
    pick(shown, "Does it include health, ethnicity, religion, sex life or sexuality, or crime?", "No")
    pick(shown, "Will you tell the child or family what you share, with whom and why?", "Already told them")
    screenshot(playground, "teams-playground-check")
    card = press(shown, "Continue", "before_send")
    shown = on("before_send")
    card = press(shown, "All true", "review")
    shown = on("review")
    card = press(shown, "Save", None)
    assert walked == list(SHARE_SCREENS)
    return card


def test_a_whole_check_then_pending_and_digest_in_the_playground(
    stack: Stack, playground: Playground, finished: dict[str, Any]
) -> None:
    summary = finished
    assert "Decision recorded: Share" in text_of(summary), text_of(summary)[:500]
    shown = playground.shown("Decision recorded: Share")
    shown.scroll_into_view_if_needed()
    screenshot(playground, "teams-playground-summary")
    # the notes to copy are one press away, under the headline
    shown.get_by_role("button", name="Case notes to copy").click()
    shown.get_by_text("Copy this into the case notes").wait_for()
    screenshot(playground, "teams-playground-summary-notes")

    # the summary's own button: the list comes as a new message (the invoke is answered with a message), and the
    # summary stays on the page to copy from
    before = len(playground.traffic.cards())
    shown.get_by_role("button", name="What is still open", exact=True).click()
    pending = playground.card_after(before, "pending", lambda c: "Still open for you" in text_of(c))
    assert "CS-2024-0113" in text_of(pending), "the follow-up waiting for the check just done"
    playground.shown("Decision recorded: Share")
    typed = playground.card_after(playground.say("pending"), "pending", lambda c: "Still open for you" in text_of(c))
    assert "CS-2024-0113" in text_of(typed)

    digest = playground.card_after(playground.say("digest"), "digest", lambda c: "Information sharing" in text_of(c))
    assert "This period" in text_of(digest) or "Nothing this period" in text_of(digest)

    refused = [ex for ex in playground.traffic.exchanges if ex.status >= 400 and ex.name != "message"]
    assert not refused, [(ex.name, ex.status, ex.response) for ex in refused]
    assert stack.refused_outgoing() == [], "the Playground tried to leave this machine"
    assert all(urlparse(url).hostname != "127.0.0.1" for url in playground.traffic.blocked)


def test_the_follow_up_arrives_and_is_answered_in_the_playground(
    stack: Stack, playground: Playground, finished: dict[str, Any]
) -> None:
    def arrived() -> dict[str, Any] | None:
        for ex in playground.traffic.exchanges:
            if ex.outgoing and FOLLOW_UP_TITLE in json.dumps(ex.request):
                assert 200 <= ex.status < 300, f"the Playground refused the follow-up: {ex.status} {ex.response}"
                return next(a["content"] for a in ex.request["attachments"])
        return None

    follow_up = playground.wait_until(arrived, "the received-and-understood follow-up", within=90)
    assert "CS-2024-0113" in text_of(follow_up)
    shown = playground.shown("ShareCheck follow-up")  # its header: `pending` quotes the title too
    shown.scroll_into_view_if_needed()
    screenshot(playground, "teams-playground-follow-up")
    before = len(playground.traffic.cards())
    shown.get_by_role("button", name="Not yet: remind me", exact=True).click()
    outcome = playground.card_after(before, "the follow-up's answer", lambda c: "I will ask again later" in text_of(c))
    assert not actions(outcome), "answered: no buttons left to press twice"
    assert "CS-2024-0113" in text_of(outcome)
    pending = playground.card_after(playground.say("pending"), "pending", lambda c: "Still open for you" in text_of(c))
    assert "CS-2024-0113" in text_of(pending)
