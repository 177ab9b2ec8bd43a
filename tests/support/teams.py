"""Driving the Teams endpoint with real Activity JSON, as Teams sends it, and answering the cards it gets back."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp.test_utils import TestClient

from adapters.teams.agent import EMULATOR_TENANT
from dialogs.content import AnswerKind, Pack
from dialogs.engine import Engine
from dialogs.state import DialogState
from tests.support.fake_connector import FakeConnector
from tests.support.flows import default_answer

TENANT = "72f988bf-0000-4000-8000-00000000beef"
"""The tenant the activities carry (as Teams sends them)."""
WORKSPACE = EMULATOR_TENANT
"""Where emulator mode keeps them: it ignores the body's tenant (no token vouches for it)."""
EMULATOR: dict[str, object] = {"sharecheck_teams_emulator": True}
"""Settings that serve /api/messages without Bot Framework credentials (loopback, tests and local trials)."""
USER = "29:1a2b3c-practitioner"
BOT = "28:sharecheck-bot"
PERSONAL = "a:1personal-conversation"
CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
"""An invoke answered with a message: the card pressed stays as it was."""
_ids = itertools.count(1)


def activity(
    service_url: str,
    type: str = "message",
    *,
    text: str | None = None,
    value: Any = None,
    name: str | None = None,
    reply_to: str | None = None,
    user: str = USER,
    tenant: str | None = TENANT,
    conversation: str = PERSONAL,
    conversation_type: str = "personal",
    channel_id: str = "msteams",
    aad_object_id: str = "00000000-0000-4000-8000-000000000001",
    **extra: Any,
) -> dict[str, Any]:
    act: dict[str, Any] = {
        "type": type,
        "id": f"1700000000{next(_ids):06d}",
        "timestamp": "2026-11-24T10:00:00.000Z",
        "localTimezone": "Europe/London",
        "serviceUrl": service_url,
        "channelId": channel_id,
        "from": {"id": user, "name": "A Practitioner", "aadObjectId": aad_object_id},
        "conversation": {"id": conversation, "conversationType": conversation_type},
        "recipient": {"id": BOT, "name": "ShareCheck"},
        "locale": "en-GB",
        **extra,
    }
    if tenant:
        act["conversation"]["tenantId"] = tenant
        act["channelData"] = {"tenant": {"id": tenant}}
    if text is not None:
        act["text"] = text
    if value is not None:
        act["value"] = value
    if name is not None:
        act["name"] = name
    if reply_to is not None:
        act["replyToId"] = reply_to
    # the client sends from this conversation, so its connector knows it (the fake refuses unknown ones)
    FakeConnector.open(service_url, act["conversation"]["id"])
    return act


def actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Action.Submit / Action.Execute on a card (in action sets and the card's action bar)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("Action.Submit", "Action.Execute"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def find_action(card: dict[str, Any], verb: str, **match: Any) -> dict[str, Any]:
    for act in actions(card):
        data = act.get("data", {})
        if data.get("sc_verb") == verb and all(data.get(k) == v for k, v in match.items()):
            return act
    raise AssertionError(f"no {verb} action {match} on card")


def answer_inputs(
    pack: Pack, card: dict[str, Any], step_id: str, answer_choices: tuple[str, ...], **kw: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The action to press and the input values to send for an answer."""
    step = pack.step(step_id)
    if step.kind is AnswerKind.RECIPIENT:
        return find_action(card, "answer"), {"sc_org": kw["organisation"], "sc_role": kw["role"]}
    if answer_choices:
        for act in actions(card):
            if act["data"].get("sc_choice") == answer_choices[0] and len(answer_choices) == 1:
                return act, {}
        return find_action(card, "answer"), {"sc_choice": ",".join(answer_choices)}
    return find_action(card, "answer"), {"sc_text": kw["text"]}


def press(
    act: dict[str, Any], inputs: dict[str, Any], service_url: str, reply_to: str | None, **kw: Any
) -> dict[str, Any]:
    """The activity Teams sends when a button is pressed: a message with value (Submit) or an invoke (Execute)."""
    data = {**act.get("data", {}), **inputs}
    if act["type"] == "Action.Execute":
        value = {"action": {"type": "Action.Execute", "verb": act["verb"], "data": data}, "trigger": "manual"}
        return activity(service_url, "invoke", name="adaptiveCard/action", value=value, reply_to=reply_to, **kw)
    return activity(service_url, "message", value=data, reply_to=reply_to, **kw)


@dataclass
class Session:
    """One practitioner's conversation with the bot through the real HTTP endpoint and the fake connector."""

    client: TestClient[Any, Any]
    connector: FakeConnector
    engine: Engine
    style: Literal["execute", "submit"] = "execute"
    cards: list[dict[str, Any]] = field(default_factory=list)
    card_id: str | None = None
    """The activity id of the card on screen (for Submit answers, Teams sends it as replyToId)."""

    async def post(self, act: dict[str, Any], status: int | None = None) -> Any:
        resp = await self.client.post("/api/messages", json=act)
        if status is not None:
            assert resp.status == status, (resp.status, await resp.text())
        return await resp.json() if resp.content_type == "application/json" else None

    async def say(self, text: str) -> dict[str, Any]:
        before = len(self.connector.calls)
        await self.post(activity(self.connector.url, text=text), 202)
        sent = [c for c in self.connector.calls[before:] if c.cards()]
        assert sent, "no card sent"
        self.card_id = sent[-1].response_id
        return self._take(sent[-1].cards()[-1])

    def _take(self, card: dict[str, Any]) -> dict[str, Any]:
        self.cards.append(card)
        return card

    async def click(self, act: dict[str, Any], inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Press a button (as the style it was rendered in, or forced to self.style) and return the next card."""
        act = dict(act)
        if self.style == "submit" and act["type"] == "Action.Execute":
            act = {"type": "Action.Submit", "title": act["title"], "data": act["data"]}
        elif self.style == "execute" and act["type"] == "Action.Submit":
            act = {"type": "Action.Execute", "title": act["title"], "verb": act["data"]["sc_verb"], "data": act["data"]}
        before = len(self.connector.calls)
        body = await self.post(press(act, inputs or {}, self.connector.url, self.card_id or "act-card"), None)
        if act["type"] == "Action.Execute":
            assert body["statusCode"] == 200 and body["type"] in (CARD, MESSAGE), body
            if body["type"] == CARD:
                return self._take(body["value"])
        sent = [c for c in self.connector.calls[before:] if c.cards()]
        assert sent, "no card sent"
        if sent[-1].kind != "update":
            # a new message (the card pressed stays): the next Submit replies to it
            self.card_id = sent[-1].response_id
        return self._take(sent[-1].cards()[-1])

    async def answer_step(
        self, card: dict[str, Any], state_step: str, state: DialogState | None = None
    ) -> dict[str, Any]:
        act, inputs = default_card_answer(self.engine, card, state_step, state)
        return await self.click(act, inputs)


def default_card_answer(
    engine: Engine, card: dict[str, Any], step_id: str, state: DialogState | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card action and inputs that answer ``step_id`` the default way (tests/support/flows.py); nobody is in
    immediate danger."""
    step = engine.pack.step(step_id)
    revision = find_action(card, "cancel")["data"]["revision"]
    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    answer = default_answer(step, state or engine.start(now).state.model_copy(update={"revision": revision}))
    if step.id == "immediate_danger":
        answer = answer.model_copy(update={"choices": ("no",)})
    recipient = answer.recipient
    return answer_inputs(
        engine.pack,
        card,
        step.id,
        answer.choices,
        text=answer.text,
        organisation=recipient.organisation if recipient else None,
        role=recipient.role if recipient else None,
    )


def step_of(card: dict[str, Any]) -> str | None:
    for act in actions(card):
        step = act.get("data", {}).get("step_id")
        if step:
            return str(step)
    return None
