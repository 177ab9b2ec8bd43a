"""A whole share-check through Teams: real Activity JSON into /api/messages, the real Agents SDK stack,
cards out to a fake Bot Framework connector; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.db.models import Check, CheckEvent, PlatformUser
from bot.runtime import Runtime
from dialogs.engine import REVIEW
from tests.support.adaptive_cards import assert_valid
from tests.support.fake_connector import FakeConnector
from tests.support.flows import NOT_SHARE_SCREENS, SHARE_SCREENS, AnswerSpec
from tests.support.teams import EMULATOR, USER, WORKSPACE, Session, activity, card_answer, press, step_of


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)


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


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_whole_check_through_cards(
    runtime: Runtime, client: TestClient, connector: FakeConnector, style: Literal["execute", "submit"]
) -> None:
    session = Session(client, connector, runtime.packs.engine(), style=style)
    card = await session.say("share-check")
    assert card["version"] == "1.5"
    first = card
    steps: list[str] = []
    while (step := step_of(card)) is not None:
        steps.append(step)
        assert len(steps) < 60
        if step == REVIEW:
            async with runtime.sessions() as s:
                assert (await s.scalars(select(Check))).one().status == "active", "nothing recorded before Save"
        card = await session.answer_step(card, step)
    assert steps == list(SHARE_SCREENS)
    for shown in session.cards:
        assert_valid(shown)
    assert any(b.get("id") == "sc_case_notes" for b in card["body"]), "the summary carries copyable case notes"

    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
        user = await s.get(PlatformUser, ("teams", WORKSPACE, USER))
    assert check.platform == "teams" and check.workspace_id == WORKSPACE and check.user_id == USER
    assert check.status == "completed" and check.decision == "share"
    assert check.case_reference == "CS-2024-0113"
    assert check.snapshot is not None and check.snapshot["decision"] == "share"
    assert user is not None and user.tz == "Europe/London"
    assert (
        user.conversation_ref is not None and user.conversation_ref["conversation"]["id"] == "a:1personal-conversation"
    )

    if style == "submit":
        # answers came back as message activities with replyToId: the card was updated in place
        updates = [c for c in connector.calls if c.kind == "update"]
        assert len(updates) == len(steps)
        assert {c.activity_id for c in updates} == {session.card_id}
    else:
        # Action.Execute: the next card travels in the invoke response; nothing extra goes to the connector
        assert [c.kind for c in connector.calls] == ["reply"]

    # a double click on the first card, long after: refused as stale, nothing recorded again
    events = await _events(runtime)
    act, inputs = card_answer(runtime.packs.pack(), first, {"immediate_danger": "yes"})
    again = press(act, inputs, connector.url, session.card_id)
    resp = await client.post("/api/messages", json=again)
    assert resp.status in (200, 202)
    assert await _events(runtime) == events


@pytest.mark.parametrize(
    ("script", "path", "decision"),
    [
        (
            {"request_context": "asked", "decision": "not_share", "not_share_reason": "not_proportionate"},
            list(NOT_SHARE_SCREENS),
            "not_share",
        ),
        (
            {"immediate_danger": "yes", "urgent_action": ("called_999", "told_lead"), "urgent_told": ("police",)},
            ["start", "urgent_action", "urgent_details", "urgent_account", REVIEW],
            "share",
        ),
    ],
    ids=["not-share-after-a-request", "urgent"],
)
async def test_the_other_main_paths_through_cards(
    runtime: Runtime,
    client: TestClient,
    connector: FakeConnector,
    script: dict[str, AnswerSpec],
    path: list[str],
    decision: str,
) -> None:
    """Not sharing when asked (the reason, then who asked) and the immediate-danger path, card by card."""
    session = Session(client, connector, runtime.packs.engine())
    done, steps = await session.walk(await session.say("share-check"), script)
    assert steps == path
    for shown in session.cards:
        assert_valid(shown)
    assert any(b.get("id") == "sc_case_notes" for b in done["body"]), "the summary carries copyable case notes"
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
    assert check.status == "completed" and check.decision == decision
    assert check.case_reference == "CS-2024-0113"
    answers = check.state["answers"]
    if decision == "not_share":
        assert answers["not_share_reason"]["choices"] == ["not_proportionate"]
        assert answers["requester_told"]["choices"] == ["told"]
    else:
        assert check.state["urgent"] and answers["urgent_action"]["choices"] == ["called_999", "told_lead"]
        assert answers["urgent_told"]["choices"] == ["police"]
        urgent = session.cards[1]
        assert "Call now" in json.dumps(urgent), "who to call comes first on the immediate-danger path"


async def test_replayed_delivery_is_acted_on_once(
    runtime: Runtime, client: TestClient, connector: FakeConnector
) -> None:
    act = activity(connector.url, text="share-check")
    for _ in range(2):
        resp = await client.post("/api/messages", json=act)
        assert resp.status == 202
    assert len([c for c in connector.calls if c.cards()]) == 1
