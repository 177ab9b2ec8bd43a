"""Requests shaped and signed the way Slack sends them, and a practitioner who clicks through the bot's messages.

Payloads follow Slack's documented examples (slash command form fields; ``block_actions``, ``view_submission``
and ``view_closed`` JSON in a ``payload`` form field). The practitioner reads what the bot posted to the fake
Web API and clicks the buttons found there, so every value the adapter wrote is the value it gets back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from adapters.slack import SLACK_ADAPTER, ids
from adapters.slack.render import DATETIME_PLACEHOLDER
from dialogs.content import AnswerKind, Pack
from dialogs.engine import REVIEW
from dialogs.messages import ALL_TRUE, SAVE
from dialogs.state import Recipient
from tests.support.fake_slack import FakeSlack, Message, view_problems
from tests.support.flows import DEFAULT_RECIPIENT, DEFAULT_TEXT

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EVENTS = "/slack/events"
DEFAULT_REFERENCE = "CS-2024-0113"
SETTLE_WITHIN = 30.0
"""Seconds the adapter's work after an ack may take on a loaded machine before a test gives up on it."""
_triggers = itertools.count(1)


def signature(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over ``v0:{timestamp}:{body}`` with the signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def trigger_id() -> str:
    return f"{next(_triggers)}.1764000000.{hashlib.sha1(str(time.time()).encode()).hexdigest()[:20]}"  # noqa: S324


def command_body(team: str, user: str, text: str = "", response_url: str = "", channel: str = "C0ABC123") -> str:
    return urlencode(
        {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": team,
            "team_domain": "example",
            "enterprise_id": "",
            "channel_id": channel,
            "channel_name": "safeguarding",
            "user_id": user,
            "user_name": "practitioner",
            "command": "/share-check",
            "text": text,
            "api_app_id": "A0SHARECHK",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id(),
        }
    )


def interaction_body(payload: Mapping[str, Any] | Any) -> str:
    return urlencode({"payload": json.dumps(payload)})


def block_actions(
    team: str, user: str, message: Message, action: dict[str, Any], state: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "practitioner", "name": "practitioner", "team_id": team},
        "api_app_id": "A0SHARECHK",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id(),
        "team": {"id": team, "domain": "example"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": message.channel, "name": "directmessage"},
        "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
        "state": {"values": state or {}},
        "response_url": "https://hooks.slack.com/actions/T0/1/abc",
        "actions": [
            {
                "action_id": action["action_id"],
                "block_id": action.get("block_id", "b"),
                "text": action.get("text", {"type": "plain_text", "text": "x"}),
                "value": action.get("value"),
                "type": action.get("type", "button"),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_payload(team: str, user: str, view: dict[str, Any], values: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "team": {"id": team, "domain": "example"},
        "user": {"id": user, "username": "practitioner", "name": "practitioner", "team_id": team},
        "api_app_id": "A0SHARECHK",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": trigger_id(),
        "view": {
            **view,
            "team_id": team,
            "state": {"values": values},
            "hash": "156772938.1827394",
            "root_view_id": view.get("id"),
            "app_id": "A0SHARECHK",
            "bot_id": "B0000001",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


Given = str | tuple[str, ...] | None
"""What a person leaves in one input: typed text or a picked user (str), picked options (a tuple), or nothing."""


def input_values(view: dict[str, Any], typed: Mapping[str, Given]) -> dict[str, Any]:
    """The ``state.values`` Slack sends for our modal: one entry per input block, shaped by its element.

    An input not in ``typed`` is sent as the modal showed it (its initial value or options), as Slack does."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        kind = element["type"]
        given = typed[block["block_id"]] if block["block_id"] in typed else _initial(element)
        entry: dict[str, Any] = {"type": kind}
        if kind == "users_select":
            entry["selected_user"] = given
        elif kind in ("radio_buttons", "static_select"):
            picked = given if isinstance(given, str) else (given[0] if given else None)
            entry["selected_option"] = _option(element, picked) if picked else None
        elif kind in ("checkboxes", "multi_static_select"):
            picked_all = (given,) if isinstance(given, str) else given or ()
            entry["selected_options"] = [_option(element, v) for v in picked_all]
        else:
            entry["value"] = given
        values[block["block_id"]] = {element["action_id"]: entry}
    return values


def _initial(element: dict[str, Any]) -> Given:
    if "initial_option" in element:
        return str(element["initial_option"]["value"])
    if "initial_options" in element:
        return tuple(o["value"] for o in element["initial_options"])
    initial = element.get("initial_value")
    return str(initial) if initial is not None else None


def _option(element: dict[str, Any], picked: str) -> dict[str, Any]:
    """The option as Slack sends it back; a value not offered is sent anyway (a forged or outdated pick)."""
    for option in element.get("options", []):
        if option["value"] == picked:
            return dict(option)
    return {"text": {"type": "plain_text", "text": picked}, "value": picked}


def field_inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A form's modal: its input blocks by field id."""
    return {
        b["block_id"].removeprefix("sc_f:"): b
        for b in view["blocks"]
        if b["type"] == "input" and b["block_id"].startswith("sc_f:")
    }


def typed_default(element: dict[str, Any], text: str = DEFAULT_TEXT) -> str:
    """What a practitioner types into a form's text input, as the input shows what it wants: a long answer in a
    multi-line box, a date where the placeholder asks for one, else (one line) a case reference."""
    if element.get("multiline"):
        return text
    if element.get("placeholder", {}).get("text") == DATETIME_PLACEHOLDER:
        return "now"
    return DEFAULT_REFERENCE


def elements(message: Message | dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.blocks if isinstance(message, Message) else message["blocks"]
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def find(message: Message, action_id: str) -> dict[str, Any]:
    for block in message.blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return {**element, "block_id": block["block_id"]}
    raise AssertionError(f"no {action_id} in {[e['action_id'] for e in elements(message)]}")


def choice_buttons(message: Message) -> list[dict[str, Any]]:
    return [e for e in elements(message) if e["action_id"].startswith("sc:choice:")]


def step_of(message: Message) -> tuple[str, int]:
    """The step id and revision the message's buttons answer."""
    for element in elements(message):
        if "value" in element:
            ref = json.loads(element["value"])
            return ref["s"], ref["r"]
    raise AssertionError("this message has no buttons")


def check_of(message: Message) -> str:
    """The check the message's buttons answer."""
    for element in elements(message):
        if "value" in element:
            return str(json.loads(element["value"])["c"])
    raise AssertionError("this message has no buttons")


def all_text(fake: FakeSlack) -> str:
    """Everything the bot sent, as JSON text: for checking what can and cannot appear in it."""
    return json.dumps([c.args for c in fake.calls])


@dataclass
class Practitioner:
    """One user in one workspace, using ShareCheck through signed HTTP requests to our server."""

    client: TestClient[Any, Any]
    fake: FakeSlack
    team: str = "T0000001"
    user: str = "U0000001"
    requests: int = 0
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    pushed: dict[str, Any] | None = None
    """The modal our last submission's ack put in place of the old one."""
    modals: list[dict[str, Any]] = field(default_factory=list)
    """Every modal of a step answered (``answer_form``), in order, as it was shown."""

    @property
    def dm(self) -> str:
        return "D" + self.user[1:]

    async def post(self, body: str, headers: Mapping[str, str] | None = None) -> ClientResponse:
        self.requests += 1
        all_headers = {"Content-Type": "application/x-www-form-urlencoded", **signature(body), **(headers or {})}
        self.sent.append((body, all_headers))
        return await self.client.post(EVENTS, data=body.encode(), headers=all_headers)

    async def replay(self, retry_num: int = 1) -> ClientResponse:
        """Deliver the last request again as a Slack retry (same body, fresh signature, retry headers)."""
        body, _ = self.sent[-1]
        return await self.post(body, {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})

    async def command(self, text: str = "") -> ClientResponse:
        resp = await self.post(command_body(self.team, self.user, text, self.fake.response_url(self.user)))
        assert resp.status == 200, await resp.text()
        return resp

    def check_message(self) -> Message:
        """The latest message in the DM that still has buttons (the check in progress)."""
        mine = [m for m in self.fake.messages.values() if m.channel == self.dm and elements(m)]
        assert mine, "no check message in the DM"
        return mine[-1]

    def dm_messages(self) -> list[Message]:
        return [m for m in self.fake.messages.values() if m.channel == self.dm]

    async def click(
        self, action_id: str, message: Message | None = None, state: dict[str, Any] | None = None
    ) -> ClientResponse:
        message = message or self.check_message()
        payload = block_actions(self.team, self.user, message, find(message, action_id), state)
        resp = await self.post(interaction_body(payload))
        assert resp.status == 200, await resp.text()
        return resp

    async def settle(self) -> None:
        """Wait for the work the adapter started after its acks (the DM message's update, a modal it opens), so
        the next step is read once it is all there: a machine under load never has a modal still on its way."""
        async with asyncio.timeout(SETTLE_WITHIN):
            await self.client.app[SLACK_ADAPTER].drain()

    async def click_and_wait(self, action_id: str, state: dict[str, Any] | None = None) -> Message:
        message = self.check_message()
        before = message.updates
        await self.click(action_id, message, state)
        await self.settle()
        await self.fake.wait_for(lambda: message.updates > before)
        return message

    async def form(self) -> dict[str, Any]:
        """The modal for the current step: the one already opened for it, else open it with the form button."""
        message = self.check_message()
        step, revision = step_of(message)
        check = check_of(message)

        def opened() -> dict[str, Any] | None:
            for call in reversed(self.fake.calls_to("views.open")):
                view: dict[str, Any] = call.args["view"]
                if view.get("callback_id") not in (ids.ANSWER_VIEW, ids.FIELDS_VIEW):
                    continue  # another kind of modal (a follow-up's note) opened meanwhile
                # the check too: another person's check (another workspace's) can be at the same step
                if opened_for(view) == (step, revision) and json.loads(view["private_metadata"])["c"] == check:
                    return {"id": "V" + str(revision), **view}
            return None

        if self.pushed is not None and opened_for(self.pushed) == (step, revision):
            return {"id": "V" + str(revision), **self.pushed}
        if opened() is None:
            await self.click("sc:form", message)
            await self.settle()
        view: dict[str, Any] = await self.fake.wait_for(opened)
        return view

    async def submit(self, view: dict[str, Any], typed: Mapping[str, Given]) -> ClientResponse:
        payload = view_payload(self.team, self.user, view, input_values(view, typed), "view_submission")
        return await self.post(interaction_body(payload))

    async def answer_form(self, typed: Mapping[str, Given]) -> Message:
        message = self.check_message()
        before = message.updates
        view = await self.form()
        self.modals.append(view)
        resp = await self.submit(view, typed)
        assert resp.status == 200
        body = await resp.text()
        assert "errors" not in body, body
        # Slack replaces the modal when the ack says so (the next question is typed too)
        self.pushed = json.loads(body)["view"] if body.startswith("{") else None
        if self.pushed is not None:
            assert not view_problems(self.pushed), view_problems(self.pushed)  # Slack checks it as views.update does
        await self.settle()
        await self.fake.wait_for(lambda: message.updates > before)
        return message

    async def answer_fields(self, answers: Mapping[str, Given] | None = None, text: str = DEFAULT_TEXT) -> Message:
        """Answer a form's modal: ``answers`` by field id; any other field as shown, else its first option
        (or typed text), as a practitioner going with the first choice would."""
        answers = answers or {}
        view = await self.form()
        typed: dict[str, Given] = {}
        for field_id, block in field_inputs(view).items():
            element = block["element"]
            if field_id in answers:
                typed[block["block_id"]] = answers[field_id]
            elif _initial(element):
                continue  # shown filled in: sent as it is
            elif element.get("options"):
                typed[block["block_id"]] = element["options"][0]["value"]
            else:
                typed[block["block_id"]] = typed_default(element, text)
        return await self.answer_form(typed)

    async def start(self) -> Message:
        await self.command()
        await self.settle()
        await self.fake.wait_for(lambda: [m for m in self.fake.messages.values() if m.channel == self.dm])
        return self.check_message()

    async def complete(
        self,
        pack: Pack,
        script: Mapping[str, str | tuple[str, ...] | Recipient] | None = None,
        until: str | None = None,
    ) -> int:
        """Answer every step as the scripted or default answer, through the buttons and modals. Returns steps.

        With ``until``, stop when that step is asked (without answering it)."""
        script = dict(script or {})
        script.setdefault("immediate_danger", "no")
        steps = 0
        while True:
            message = self.check_message()
            step_id, _ = step_of(message)
            if step_id == until:
                return steps
            spec = script.get(step_id)
            steps += 1
            posted = len(self.dm_messages())
            if step_id == REVIEW:
                # the review screen: Save, unless the script picks an answer to change
                if isinstance(spec, str):
                    message = await self.pick_change(spec)
                else:
                    message = await self.click_and_wait(f"sc:choice:{SAVE}")
                if not any(e["action_id"].startswith("sc:") for e in elements(message)):
                    await self.wait_for_new_message(posted)
                    return steps
                continue
            step = pack.step(step_id)
            if step.kind is AnswerKind.FORM:
                fields: dict[str, Given] = {
                    f.id: v for f in step.fields if isinstance(v := script.get(f.id), str | tuple)
                }
                for f in step.fields:  # typed fields left to the default: as the field's kind wants
                    if f.id not in fields and f.kind in (AnswerKind.CASE_REFERENCE, AnswerKind.DATETIME):
                        fields[f.id] = DEFAULT_REFERENCE if f.kind is AnswerKind.CASE_REFERENCE else "now"
                message = await self.answer_fields(fields)
            elif step.kind is AnswerKind.CONFIRM_LIST:
                if isinstance(spec, tuple):
                    message = await self.click_and_wait("sc:multi_submit", checkbox_state(message, spec))
                else:
                    message = await self.click_and_wait(f"sc:choice:{ALL_TRUE}")
            elif step.kind is AnswerKind.RECIPIENT:
                recipient = spec if isinstance(spec, Recipient) else DEFAULT_RECIPIENT
                typed = {"sc_user": recipient.user_id, "sc_org": recipient.organisation, "sc_role": recipient.role}
                message = await self.answer_form(typed)
            elif step.kind in (AnswerKind.CASE_REFERENCE, AnswerKind.FREE_TEXT, AnswerKind.DATETIME):
                default = {AnswerKind.CASE_REFERENCE: DEFAULT_REFERENCE, AnswerKind.DATETIME: "now"}
                text = spec if isinstance(spec, str) else default.get(step.kind, DEFAULT_TEXT)
                message = await self.answer_form({"sc_text": text})
            elif step.kind is AnswerKind.MULTI_CHOICE:
                picked = spec if isinstance(spec, tuple) else (step.effective_choices()[0].id,)
                message = await self.click_and_wait("sc:multi_submit", checkbox_state(message, picked))
            else:
                choice = spec if isinstance(spec, str) else step.effective_choices()[0].id
                message = await self.click_and_wait(f"sc:choice:{choice}")
            if not any(e["action_id"].startswith("sc:") for e in elements(message)):
                # finished: the summary arrives as a new message
                await self.wait_for_new_message(posted)
                return steps

    async def pick_change(self, step_id: str) -> Message:
        """On the review screen, pick 'Change: <step>' from the menu (Slack sends the picked option)."""
        message = self.check_message()
        before = message.updates
        menu = find(message, "sc:change")
        option = next(o for o in menu["options"] if json.loads(o["value"])["v"] == f"change:{step_id}")
        payload = block_actions(self.team, self.user, message, {**menu, "type": "static_select"})
        for absent in ("value", "text"):  # a select menu's action has neither, only the picked option
            payload["actions"][0].pop(absent, None)
        payload["actions"][0]["selected_option"] = option
        payload["actions"][0]["placeholder"] = menu.get("placeholder")
        resp = await self.post(interaction_body(payload))
        assert resp.status == 200, await resp.text()
        await self.settle()
        await self.fake.wait_for(lambda: message.updates > before)
        return message

    async def wait_for_new_message(self, after: int) -> Message:
        await self.settle()
        await self.fake.wait_for(lambda: len(self.dm_messages()) > after)
        return self.dm_messages()[-1]


def opened_for(view: dict[str, Any]) -> tuple[str, int]:
    """The step and revision a modal of ours answers."""
    ref = json.loads(view["private_metadata"])
    return ref["s"], ref["r"]


def checkbox_state(message: Message, picked: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in message.blocks:
        if block["type"] != "actions":
            continue
        for element in block["elements"]:
            if element["type"] == "checkboxes":
                chosen = [o for o in element["options"] if o["value"] in picked]
                values[block["block_id"]] = {element["action_id"]: {"type": "checkboxes", "selected_options": chosen}}
    return values
