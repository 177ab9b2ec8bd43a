"""The Teams people picker on the recipient question, through the real Agents SDK stack and the fake connector:
a picked colleague (an Entra object id) is matched to the ShareCheck user who has it, so their follow-up reaches
them; one who never talked to ShareCheck is said so in the check and recorded as a colleague the sender confirms for.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from adapters.teams.cards import PEOPLE_PICKER, PERSON
from bot.db.models import Check, FollowUp, PlatformUser
from bot.runtime import Runtime
from bot.services.picked_colleague import NOT_YET_A_USER, UNREACHED_COLLEAGUE
from dialogs.content import AnswerKind
from dialogs.record import RecordSnapshot
from dialogs.state import Recipient
from tests.support.adaptive_cards import assert_valid
from tests.support.fake_connector import FakeConnector
from tests.support.teams import EMULATOR, WORKSPACE, Session, activity, find_action, step_of

COLLEAGUE = "29:2b3c4d-colleague"
COLLEAGUE_AAD = "6a1d1f0e-0000-4000-8000-00000000c011"
STRANGER_AAD = "6a1d1f0e-0000-4000-8000-00000000dead"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(EMULATOR)  # the local emulator, asked for by name


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def to_recipient_question(session: Session) -> dict[str, Any]:
    card = await session.say("share-check")
    while (step := step_of(card)) is not None:
        if session.engine.pack.step(step).kind is AnswerKind.RECIPIENT:
            return card
        card = await session.answer_step(card, step)
    raise AssertionError("the check ended without asking for the recipient")


async def finish(session: Session, card: dict[str, Any]) -> dict[str, Any]:
    while (step := step_of(card)) is not None:
        card = await session.answer_step(card, step)
    return card


def picker(card: dict[str, Any]) -> dict[str, Any]:
    [found] = [b for b in card["body"] if b.get("id") == PERSON]
    return found


def notice_of(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def recorded_recipient(runtime: Runtime) -> Recipient | None:
    async with runtime.sessions() as s:
        check = (await s.scalars(select(Check))).one()
    return RecordSnapshot.model_validate(check.snapshot).recipient


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_a_picked_colleague_who_talked_to_sharecheck_is_the_recipient_and_gets_the_follow_up(
    runtime: Runtime, client: TestClient, connector: FakeConnector, style: Literal["execute", "submit"]
) -> None:
    # the colleague once said hello: their Entra object id is stored beside their conversation reference
    hello = activity(
        connector.url, text="help", user=COLLEAGUE, conversation="a:1colleague", aad_object_id=COLLEAGUE_AAD
    )
    assert (await client.post("/api/messages", json=hello)).status == 202
    async with runtime.sessions() as s:
        stored = await s.get(PlatformUser, ("teams", WORKSPACE, COLLEAGUE))
    assert stored is not None and stored.aad_object_id == COLLEAGUE_AAD and stored.conversation_ref is not None

    session = Session(client, connector, runtime.packs.engine(), style=style)
    card = await to_recipient_question(session)
    assert_valid(card)
    field = picker(card)
    assert field["type"] == "Input.ChoiceSet" and field["choices.data"] == PEOPLE_PICKER and field["choices"] == []
    nxt = await session.click(find_action(card, "answer"), {PERSON: COLLEAGUE_AAD, "sc_org": "", "sc_role": ""})
    assert NOT_YET_A_USER not in notice_of(nxt)
    await finish(session, nxt)

    assert await recorded_recipient(runtime) == Recipient(user_id=COLLEAGUE)
    async with runtime.sessions() as s:
        kinds = {(f.kind, f.target_id) for f in await s.scalars(select(FollowUp))}
    assert ("recipient_confirm", COLLEAGUE) in kinds, kinds


@pytest.mark.parametrize("style", ["execute", "submit"])
async def test_a_picked_colleague_who_never_talked_to_sharecheck_is_said_so_and_the_sender_confirms(
    runtime: Runtime, client: TestClient, connector: FakeConnector, style: Literal["execute", "submit"]
) -> None:
    session = Session(client, connector, runtime.packs.engine(), style=style)
    card = await to_recipient_question(session)
    nxt = await session.click(find_action(card, "answer"), {PERSON: STRANGER_AAD, "sc_org": "", "sc_role": ""})
    assert_valid(nxt)
    assert NOT_YET_A_USER in notice_of(nxt), "said in the check, not left to fail later"
    await finish(session, nxt)

    assert await recorded_recipient(runtime) == UNREACHED_COLLEAGUE
    async with runtime.sessions() as s:
        follow_ups = list(await s.scalars(select(FollowUp)))
        users = {u.user_id for u in await s.scalars(select(PlatformUser))}
    assert STRANGER_AAD not in users and not any(f.kind == "recipient_confirm" for f in follow_ups)
    assert any(f.kind == "sender_confirm" for f in follow_ups), [f.kind for f in follow_ups]


async def test_a_colleague_and_an_organisation_together_are_refused_with_the_reason(
    runtime: Runtime, client: TestClient, connector: FakeConnector
) -> None:
    session = Session(client, connector, runtime.packs.engine(), style="execute")
    card = await to_recipient_question(session)
    step = step_of(card)
    again = await session.click(
        find_action(card, "answer"), {PERSON: STRANGER_AAD, "sc_org": "Northshire Police", "sc_role": "DS"}
    )
    assert step_of(again) == step and "not both" in notice_of(again)
    # nothing picked and nothing typed: the engine's own words, the same question again
    empty = await session.click(find_action(again, "answer"), {PERSON: "", "sc_org": "", "sc_role": ""})
    assert step_of(empty) == step and "organisation and the recipient's role" in notice_of(empty)
    # another tenant's user with that object id is never matched (emulator mode keeps every activity in its one
    # tenant, so that user is stored as a tenant with tokens would store them)
    async with runtime.sessions.begin() as s:
        s.add(
            PlatformUser(
                platform="teams",
                workspace_id="another-tenant",
                user_id="29:other",
                aad_object_id=COLLEAGUE_AAD,
                conversation_ref={"conversation": {"id": "a:1o"}},
                updated_at=datetime.now(UTC),
            )
        )
    nxt = await session.click(find_action(empty, "answer"), {PERSON: COLLEAGUE_AAD, "sc_org": "", "sc_role": ""})
    assert NOT_YET_A_USER in notice_of(nxt)
