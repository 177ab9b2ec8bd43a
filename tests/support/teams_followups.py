"""The people of one Teams tenant talking to the bot through /api/messages, with the fake connector."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.clock import ManualClock
from bot.db.models import FollowUp, Role
from bot.runtime import Runtime
from dialogs.content import AnswerKind
from tests.support.adaptive_cards import assert_valid
from tests.support.fake_connector import Call, FakeConnector
from tests.support.flows import AnswerSpec
from tests.support.teams import (
    CARD,
    PERSONAL,
    TENANT,
    USER,
    WORKSPACE,
    Session,
    activity,
    press,
    step_of,
)

SENDER = USER

COLLEAGUE = "29:1colleague-recipient"

LEAD = "29:1safeguarding-lead"

ADMIN = "29:1sharecheck-admin"


def dm(user: str) -> str:
    """Each user's personal chat with the bot (the sender's is the helper's default PERSONAL)."""
    return PERSONAL if user == SENDER else f"a:dm-{user}"


def mention(user: str, name: str = "Colleague") -> dict[str, Any]:
    return {"type": "mention", "text": f"<at>{name}</at>", "mentioned": {"id": user, "name": name}}


class Teams:
    """The people of one tenant talking to the bot through /api/messages."""

    def __init__(self, runtime: Runtime, client: TestClient, connector: FakeConnector) -> None:
        self.runtime = runtime
        self.client = client
        self.connector = connector
        self.sender = Session(client, connector, runtime.packs.engine(), style="execute")

    async def hello(self, user: str, tz: str = "Europe/London", tenant: str = TENANT) -> None:
        """The user messages the bot once: their conversation reference and time zone are stored."""
        act = activity(self.connector.url, text="help", user=user, conversation=dm(user), tenant=tenant)
        act["localTimezone"] = tz
        resp = await self.client.post("/api/messages", json=act)
        assert resp.status == 202

    async def say(self, user: str, text: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        before = len(self.connector.calls)
        act = activity(self.connector.url, text=text, user=user, conversation=dm(user), entities=entities or [])
        assert (await self.client.post("/api/messages", json=act)).status == 202
        sent = [c for c in self.connector.calls[before:] if c.cards()]
        assert sent, "no card in reply"
        card = sent[-1].cards()[-1]
        assert_valid(card)
        return card

    async def complete(self, script: Mapping[str, AnswerSpec] | None = None) -> uuid.UUID:
        """The sender runs a whole check and saves it on the review. A script entry answers a step or a form field
        by its id (as tests/support/flows.py scripts; nobody in immediate danger unless it says so); '@user' at the
        recipient names a colleague."""
        script = script or {}
        card = await self.sender.say("share-check")
        seen = 0
        while (step := step_of(card)) is not None:
            seen += 1
            assert seen < 60, f"no end after 60 cards, at {step}"
            spec = script.get(step)
            if isinstance(spec, str) and spec.startswith("@"):
                assert self.runtime.packs.pack().step(step).kind is AnswerKind.RECIPIENT
                card = await self.say(SENDER, "<at>Colleague</at>", [mention(spec[1:])])
            else:
                card = await self.sender.answer_step(card, step, script=script)
        async with self.runtime.sessions() as s:
            check_id = await s.scalar(select(FollowUp.check_id).order_by(FollowUp.created_at.desc()).limit(1))
        assert check_id is not None, "the check created no follow-up"
        return check_id

    def sent_to(self, user: str, since: int = 0) -> list[Call]:
        """Proactive cards accepted by the connector in the user's personal chat."""
        return [
            c
            for c in self.connector.calls[since:]
            if c.kind == "send" and c.conversation_id == dm(user) and c.status < 300 and c.cards()
        ]

    def cards_to(self, user: str, since: int = 0) -> list[dict[str, Any]]:
        cards = [card for call in self.sent_to(user, since) for card in call.cards()]
        for card in cards:
            assert_valid(card)
        return cards

    async def execute(self, user: str, act: dict[str, Any], inputs: dict[str, Any] | None = None, **kw: Any) -> Any:
        assert act["type"] == "Action.Execute"
        body = press(act, inputs or {}, self.connector.url, None, user=user, conversation=dm(user), **kw)
        resp = await self.client.post("/api/messages", json=body)
        assert resp.status == 200
        answer = await resp.json()
        assert answer["statusCode"] == 200 and answer["type"] == CARD
        assert_valid(answer["value"])
        return answer["value"]

    async def submit(self, user: str, act: dict[str, Any], card_id: str, inputs: dict[str, Any] | None = None) -> Call:
        """Action.Submit: a message with the action's data and the inputs, replying to the card pressed."""
        submit = {"type": "Action.Submit", "title": act["title"], "data": act["data"]}
        before = len(self.connector.calls)
        body = press(submit, inputs or {}, self.connector.url, card_id, user=user, conversation=dm(user))
        assert (await self.client.post("/api/messages", json=body)).status == 202
        [call] = [c for c in self.connector.calls[before:] if c.cards()]
        assert_valid(call.cards()[-1])
        return call


def text_of(card: dict[str, Any]) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("text", "title", "value", "label"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return " ".join(parts)


async def make_admin(runtime: Runtime, clock: ManualClock) -> None:
    async with runtime.sessions.begin() as s:
        s.add(
            Role(
                platform="teams",
                workspace_id=WORKSPACE,
                user_id=ADMIN,
                role="admin",
                granted_by="t",
                created_at=clock.now(),
            )
        )
