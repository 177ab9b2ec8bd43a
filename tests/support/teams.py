"""Driving the Teams endpoint with real Activity JSON, as Teams sends it, and answering the cards it gets back."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp.test_utils import TestClient

from adapters.teams.agent import EMULATOR_TENANT
from adapters.teams.step_kinds import CHANGE, FIELD_CHOICES, FIELD_TEXT, TICKS
from dialogs.content import AnswerKind, Pack, Step
from dialogs.engine import REVIEW, Engine
from dialogs.messages import ALL_TRUE, CHANGE_PREFIX, SAVE
from dialogs.state import DialogState, Recipient
from tests.support.adaptive_cards import inputs as card_inputs
from tests.support.fake_connector import FakeConnector
from tests.support.flows import DEFAULT_RECIPIENT, DEFAULT_TEXT, AnswerSpec

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
        self,
        card: dict[str, Any],
        state_step: str,
        state: DialogState | None = None,
        script: Mapping[str, AnswerSpec] | None = None,
    ) -> dict[str, Any]:
        """Answer the step on the card: from ``script`` by step or form field id, else the default way."""
        act, inputs = card_answer(self.engine.pack, card, script, state_step)
        return await self.click(act, inputs)

    async def walk(
        self, card: dict[str, Any], script: Mapping[str, AnswerSpec] | None = None, max_steps: int = 60
    ) -> tuple[dict[str, Any], list[str]]:
        """Answer card after card (``card_answer``) until one asks nothing more; that card and the steps seen."""
        steps: list[str] = []
        while (step := step_of(card)) is not None:
            steps.append(step)
            assert len(steps) < max_steps, f"no end after {max_steps} cards: {steps[-10:]}"
            card = await self.answer_step(card, step, script=script)
        return card, steps


def default_card_answer(
    engine: Engine, card: dict[str, Any], step_id: str, state: DialogState | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card action and inputs that answer ``step_id`` the default way (``card_answer``); nobody is in
    immediate danger. ``state`` is no longer needed (the card shows what is asked) and is ignored."""
    return card_answer(engine.pack, card, None, step_id)


TEXT_DEFAULTS = {AnswerKind.CASE_REFERENCE: "CS-2024-0113", AnswerKind.DATETIME: "now"}
"""What a typed answer defaults to, by kind (else ``DEFAULT_TEXT``), as in tests/support/flows.py."""


def card_answer(
    pack: Pack, card: dict[str, Any], script: Mapping[str, AnswerSpec] | None = None, step_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The action to press and the inputs to send to answer the card on screen, whatever its kind: from
    ``script`` by step id or form field id (as tests/support/flows.py scripts), else a default: the first choice
    the card offers, a typed default, All true on a confirmation list, Save on the review. Nobody is in immediate
    danger unless the script says so. The card decides what is asked (a form's fields, the choices offered).

    A review's script entry ``change:<step>`` presses Change with that answer; a confirmation list's entry is
    ``ALL_TRUE``, or the ticked item ids."""
    script = {"immediate_danger": "no", **(script or {})}
    step_id = step_id or step_of(card)
    assert step_id is not None, "the card asks nothing"
    if step_id == REVIEW:
        review = script.get(REVIEW, SAVE)
        if isinstance(review, str) and review.startswith(CHANGE_PREFIX):
            return find_action(card, "answer", step_id=REVIEW, sc_choice=None), {CHANGE: review}
        return find_action(card, "answer", sc_choice=SAVE), {}
    step = pack.step(step_id)
    spec = script.get(step_id)
    if step.kind is AnswerKind.FORM:
        return find_action(card, "answer"), form_values(step, card, script)
    if step.kind is AnswerKind.CONFIRM_LIST:
        if spec is None or spec == ALL_TRUE:
            return find_action(card, "answer", sc_choice=ALL_TRUE), {}
        ticked = (spec,) if isinstance(spec, str) else spec
        assert isinstance(ticked, tuple)
        return find_action(card, "answer", sc_choice=None), {TICKS: ",".join(ticked)}
    if step.kind is AnswerKind.RECIPIENT:
        recipient = spec if isinstance(spec, Recipient) else DEFAULT_RECIPIENT
        return answer_inputs(pack, card, step_id, (), organisation=recipient.organisation, role=recipient.role)
    if step.effective_choices():
        chosen = (spec,) if isinstance(spec, str) else spec if isinstance(spec, tuple) else (first_choice(card),)
        return answer_inputs(pack, card, step_id, chosen)
    typed = spec if isinstance(spec, str) else TEXT_DEFAULTS.get(step.kind, DEFAULT_TEXT)
    return answer_inputs(pack, card, step_id, (), text=typed)


def first_choice(card: dict[str, Any]) -> str:
    """The first choice the card offers: its first choice button, else the first option of its choice input."""
    for act in actions(card):
        data = act.get("data", {})
        if data.get("sc_verb") == "answer" and data.get("sc_choice"):
            return str(data["sc_choice"])
    shown = card_inputs(card).get("sc_choice")
    assert shown is not None and shown["choices"], "the card offers no choice"
    return str(shown["choices"][0]["value"])


def form_values(step: Step, card: dict[str, Any], script: Mapping[str, AnswerSpec]) -> dict[str, str]:
    """The input values a form's Continue sends: each field on the card from ``script`` by field id, else the
    value already in it, else (a required field) the first choice or a typed default; optional ones left empty."""
    kinds = {f.id: f.kind for f in step.fields}
    values: dict[str, str] = {}
    for input_id, shown in card_inputs(card).items():
        if not input_id.startswith((FIELD_CHOICES, FIELD_TEXT)):
            continue
        field_id = input_id.removeprefix(FIELD_CHOICES).removeprefix(FIELD_TEXT)
        spec = script.get(field_id)
        if isinstance(spec, tuple):
            values[input_id] = ",".join(spec)
        elif isinstance(spec, str):
            values[input_id] = spec
        elif "value" in shown:
            values[input_id] = str(shown["value"])
        elif not shown.get("isRequired"):
            values[input_id] = ""
        elif input_id.startswith(FIELD_CHOICES):
            values[input_id] = str(shown["choices"][0]["value"])
        else:
            values[input_id] = TEXT_DEFAULTS.get(kinds[field_id], DEFAULT_TEXT)
    return values


def step_of(card: dict[str, Any]) -> str | None:
    for act in actions(card):
        step = act.get("data", {}).get("step_id")
        if step:
            return str(step)
    return None
