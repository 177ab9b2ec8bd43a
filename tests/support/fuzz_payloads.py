"""Hypothesis strategies for structure-aware fuzzing: payloads shaped like the real ones, then mutated.

Each payload starts as what Slack or Bot Framework really sends (the shapes of ``tests/support/slack_requests``
and ``tests/support/teams``, naming a real check, so mutations reach deep into the handlers), and then up to a
few mutations hit nodes anywhere in its tree: a value of the wrong type, a field removed or added, a hostile or
huge string, or a raw JSON fragment that ``json.dumps`` could not write (nesting 100,000 deep, a number past
every limit, an escaped NUL or lone surrogate). Fragments are spliced into the text after dumping, so a body
nested 100,000 deep costs its length and no recursion on this side.
"""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from adapters.slack import ids
from adapters.teams.step_kinds import FIELD_CHOICES
from tests.support.slack_requests import trigger_id

MARK = "\ue0ff"
_SPLICE = re.compile(r'"\\ue0ff(\d+)\\ue0ff"')
DEPTHS = (2, 63, 64, 65, 900, 1000, 5_000, 100_000)
"""Nesting around the accepted limit (bot.body_shape.MAX_DEPTH), around Python's recursion limit, and far past."""
HUGE = (255, 256, 2_000, 2_001, 3_000, 3_001, 10_000, 200_000, 300_000)
"""String lengths at the fields' limits (Slack ids, values, typed text) and around the 256 KiB body limit."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
hostile_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "\x01\x1b[31m\x7f",
        "\u202eevil",
        "<!channel>",
        "<@U0BOSS|boss>",
        "{user:U0BOSS}",
        "'; DROP TABLE checks; --",
        "../../etc/passwd",
        "%00%ff",
        "💥" * 50,
        "null",
        "{}",
        '{"c": "not-a-uuid"}',
    ]
)


def nest(depth: int, kind: str) -> str:
    """JSON text ``depth`` containers deep, written without recursion."""
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


fragments = st.one_of(
    st.builds(nest, st.sampled_from(DEPTHS), st.sampled_from("[{")),
    st.sampled_from(["9" * 5_000, "-1e999999", "1e-999999", "NaN", "-Infinity", '"\\ud800"', '"\\u0000"', "[1,]"]),
)
"""Raw JSON no encoder writes: extreme nesting, numbers past int and float limits, invalid escapes, bad syntax."""


@dataclass(frozen=True)
class Doc:
    """A JSON value and the raw fragments its marked strings stand for."""

    value: object
    raw: tuple[str, ...] = ()
    mutations: int = 0
    """How many mutations made it (0: the real shape as it is)."""

    def dumps(self) -> str:
        return _SPLICE.sub(lambda m: self.raw[int(m.group(1))], json.dumps(self.value))

    def text(self, value: object) -> str:
        """A form field's text: a string as it is (a marked one as its fragment), anything else as JSON."""
        if isinstance(value, str):
            match = re.fullmatch(f"{MARK}(\\d+){MARK}", value)
            return self.raw[int(match.group(1))] if match else value
        return Doc(value, self.raw).dumps()

    def form(self) -> str:
        """The top-level object's fields as a urlencoded form (a value that is not an object: one ``payload``)."""
        fields = self.value if isinstance(self.value, dict) else {"payload": self.value}
        return urlencode({str(k): self.text(v) for k, v in fields.items()}, quote_via=quote, errors="surrogatepass")

    def payload_form(self) -> str:
        """As Slack posts interactivity: the JSON in one ``payload`` form field."""
        return urlencode({"payload": self.dumps()}, quote_via=quote, errors="surrogatepass")


Path = list[str | int]


def _children(node: object) -> list[str | int]:
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def _at(root: object, path: Path) -> object:
    node = root
    for key in path:
        node = node[key]  # type: ignore[index]
    return node


@st.composite
def _path(draw: st.DrawFn, root: object) -> Path:
    """A node anywhere in the tree: go one level deeper while there is one and the draw says so."""
    path: Path = []
    node = root
    while _children(node) and draw(st.integers(0, 3)) > 0:
        key = draw(st.sampled_from(_children(node)))
        path.append(key)
        node = node[key]  # type: ignore[index]
    return path


def _replace(root: object, path: Path, value: object) -> object:
    if not path:
        return value
    parent = _at(root, path[:-1])
    parent[path[-1]] = value  # type: ignore[index]
    return root


@st.composite
def _mutate_once(draw: st.DrawFn, root: object, raw: list[str], strings_only: bool) -> object:
    path = draw(_path(root))
    op = draw(st.sampled_from(["retype", "delete", "add", "huge", "hostile", "raw"]))
    if op == "delete" and path:
        parent = _at(root, path[:-1])
        del parent[path[-1]]  # type: ignore[attr-defined]
        return root
    if op == "add":
        node = _at(root, path)
        if isinstance(node, dict):
            node[draw(st.text(max_size=12))] = draw(json_values)
        elif isinstance(node, list):
            node.append(draw(json_values))
        return root
    if op == "huge":
        size = draw(st.sampled_from(HUGE))
        return _replace(root, path, draw(st.sampled_from(["x", "é", "💥", "\x00"])) * size)
    if op == "hostile":
        return _replace(root, path, draw(hostile_text))
    if op == "raw":
        raw.append(draw(fragments))
        return _replace(root, path, f"{MARK}{len(raw) - 1}{MARK}")
    value = draw(json_values)
    return _replace(root, path, str(value) if strings_only and path else value)


def mutated(template: Callable[[], object], strings_only: bool = False, most: int = 3) -> st.SearchStrategy[Doc]:
    """``template()``'s payload with up to ``most`` mutations (none, sometimes: the real shape must pass too)."""

    @st.composite
    def build(draw: st.DrawFn) -> Doc:
        root = copy.deepcopy(template())
        raw: list[str] = []
        times = draw(st.integers(0, most))
        for _ in range(times):
            root = draw(_mutate_once(root, raw, strings_only))
        return Doc(root, tuple(raw), times)

    return build()


# --- real shapes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackCheck:
    """A check in progress on Slack that mutated payloads name (so they reach the listeners and the engine)."""

    team: str
    user: str
    check_id: uuid.UUID
    step: str
    revision: int
    response_url: str
    """Where Slack takes replies to this request: the fake's, so a reply never leaves the machine."""

    def ref(self, **extra: object) -> str:
        return json.dumps({"c": str(self.check_id), "s": self.step, "r": self.revision, **extra})


def slash_command(check: SlackCheck, text: str = "") -> dict[str, Any]:
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": check.team,
        "team_domain": "example",
        "channel_id": "C0ABC123",
        "channel_name": "safeguarding",
        "user_id": check.user,
        "user_name": "practitioner",
        "command": "/share-check",
        "text": text,
        "api_app_id": "A0SHARECHK",
        "is_enterprise_install": "false",
        "response_url": check.response_url,
        "trigger_id": trigger_id(),
    }


def block_actions(check: SlackCheck, action_id: str, value: str | None) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": check.user, "username": "practitioner", "team_id": check.team},
        "api_app_id": "A0SHARECHK",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "container": {
            "type": "message",
            "message_ts": "1764000000.000100",
            "channel_id": "D0FUZZ",
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id(),
        "team": {"id": check.team, "domain": "example"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "D0FUZZ", "name": "directmessage"},
        "message": {"type": "message", "ts": "1764000000.000100", "text": "ShareCheck", "blocks": []},
        "state": {
            "values": {
                ids.MULTI_BLOCK + "0": {
                    ids.MULTI + "0": {"type": "checkboxes", "selected_options": [{"value": "called_999"}]}
                }
            }
        },
        "response_url": check.response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b",
                "text": {"type": "plain_text", "text": "Yes"},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view(check: SlackCheck, kind: str, values: Mapping[str, Any], callback_id: str = ids.ANSWER_VIEW) -> dict[str, Any]:
    metadata = check.ref(ch="D0FUZZ", ts="1764000000.000100")
    return {
        "type": kind,
        "team": {"id": check.team, "domain": "example"},
        "user": {"id": check.user, "username": "practitioner", "team_id": check.team},
        "api_app_id": "A0SHARECHK",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": trigger_id(),
        "view": {
            "id": "V0FUZZ",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "team_id": check.team,
            "state": {"values": dict(values)},
            "hash": "156772938.1827394",
            "app_id": "A0SHARECHK",
            "bot_id": "B0000001",
        },
        "response_urls": [
            {"block_id": "b", "action_id": "a", "channel_id": "D0FUZZ", "response_url": check.response_url}
        ],
        "is_enterprise_install": False,
    }


def lifecycle_event(check: SlackCheck, kind: str) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind}
    if kind == "tokens_revoked":
        event["tokens"] = {"oauth": [check.user], "bot": ["UBOT0001"]}
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": check.team,
        "api_app_id": "A0SHARECHK",
        "type": "event_callback",
        "event_id": "Ev0FUZZ",
        "event_time": 1764000000,
        "event": event,
    }


def _option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value}, "value": value}


def slack_templates(check: SlackCheck) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """(how Slack posts it, payload) for every kind of request ShareCheck handles."""
    text_value = {ids.TEXT_BLOCK: {ids.INPUT_ACTION: {"type": "plain_text_input", "value": "CS-2024-0113"}}}
    # the default pack's first step, a form: one input block per field
    form_values = {
        ids.FIELD_BLOCK + field: {ids.INPUT_ACTION: {"type": "radio_buttons", "selected_option": _option(choice)}}
        for field, choice in (("immediate_danger", "no"), ("request_context", "asked"))
    }
    recipient = {
        ids.USER_BLOCK: {ids.INPUT_ACTION: {"type": "users_select", "selected_user": "U0COLLEAGUE"}},
        ids.ORG_BLOCK: {ids.INPUT_ACTION: {"type": "plain_text_input", "value": "Northshire Police"}},
    }
    return [
        ("command", lambda: slash_command(check)),
        ("command", lambda: slash_command(check, "revoke CS-2024-0113")),
        ("command", lambda: slash_command(check, "admin lead add <@U0LEAD|lead> all")),
        ("payload", lambda: block_actions(check, ids.CHOICE + "no", check.ref(v="no"))),
        ("payload", lambda: block_actions(check, ids.MULTI_SUBMIT, check.ref())),
        ("payload", lambda: block_actions(check, ids.FORM, check.ref())),
        ("payload", lambda: block_actions(check, ids.BACK, check.ref())),
        (
            "payload",
            lambda: block_actions(check, ids.FOLLOW_UP + "yes", json.dumps({"f": str(uuid.uuid4()), "v": "yes"})),
        ),
        ("payload", lambda: block_actions(check, ids.RECONSIDER, json.dumps({"c": str(check.check_id)}))),
        ("payload", lambda: block_actions(check, ids.START, None)),
        ("payload", lambda: view(check, "view_submission", text_value)),
        ("payload", lambda: view(check, "view_submission", form_values, ids.FIELDS_VIEW)),
        ("payload", lambda: view(check, "view_submission", recipient)),
        ("payload", lambda: view(check, "view_closed", {})),
        ("json", lambda: lifecycle_event(check, "tokens_revoked")),
        (
            "json",
            lambda: {
                "token": "x",
                "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "type": "url_verification",
            },
        ),
    ]


@dataclass(frozen=True)
class TeamsCheck:
    """A check in progress on Teams (emulator mode) that mutated activities name."""

    service_url: str
    conversation: str
    user: str
    check_id: uuid.UUID
    step: str
    revision: int

    def data(self, verb: str, **extra: object) -> dict[str, Any]:
        return {
            "sc_verb": verb,
            "check_id": str(self.check_id),
            "step_id": self.step,
            "revision": self.revision,
            **extra,
        }


def activity(check: TeamsCheck, kind: str = "message", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"1700000000{uuid.uuid4().int % 10**6:06d}",
        "timestamp": "2026-11-24T10:00:00.000Z",
        "localTimestamp": "2026-11-24T10:00:00.000+00:00",
        "localTimezone": "Europe/London",
        "serviceUrl": check.service_url,
        "channelId": "msteams",
        "from": {"id": check.user, "name": "A Practitioner", "aadObjectId": "00000000-0000-4000-8000-000000000001"},
        "conversation": {
            "id": check.conversation,
            "conversationType": "personal",
            "tenantId": "72f988bf-0000-4000-8000-00000000beef",
        },
        "recipient": {"id": "28:sharecheck-bot", "name": "ShareCheck"},
        "channelData": {"tenant": {"id": "72f988bf-0000-4000-8000-00000000beef"}},
        "locale": "en-GB",
        "entities": [{"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web"}],
        **extra,
    }


def execute(check: TeamsCheck, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
    return activity(check, "invoke", name="adaptiveCard/action", value=value, replyToId="1700000000000001")


START_FORM = {FIELD_CHOICES + "immediate_danger": "no", FIELD_CHOICES + "request_context": "asked"}


def teams_templates(check: TeamsCheck) -> list[Callable[[], dict[str, Any]]]:
    return [
        lambda: activity(check, text="share-check"),
        lambda: activity(check, text="revoke CS-2024-0113"),
        lambda: activity(check, text="<at>ShareCheck</at> admin lead add <at>Lead</at> all"),
        lambda: activity(check, value=check.data("answer", sc_choice="no"), replyToId="1700000000000001"),
        lambda: activity(check, value=check.data("answer", sc_text="CS-2024-0113"), replyToId="1700000000000001"),
        lambda: execute(check, "answer", check.data("answer", sc_choice="no")),
        # the default pack's first step, a form: one input per field
        lambda: execute(check, "answer", check.data("answer", **START_FORM)),
        lambda: execute(check, "answer", check.data("answer", sc_org="Northshire Police", sc_role="PC")),
        lambda: execute(check, "back", check.data("back")),
        lambda: execute(
            check, "follow_up", {"sc_verb": "follow_up", "follow_up_id": str(uuid.uuid4()), "sc_choice": "yes"}
        ),
        lambda: execute(check, "reconsider", {"sc_verb": "reconsider", "check_id": str(check.check_id)}),
        lambda: activity(
            check,
            "conversationUpdate",
            membersAdded=[{"id": "28:sharecheck-bot"}, {"id": check.user}],
        ),
        lambda: activity(check, "installationUpdate", action="add"),
        lambda: activity(check, "messageReaction", reactionsAdded=[{"type": "like"}]),
        lambda: activity(check, "typing"),
    ]


def receipt_form(csrf: str, choices: tuple[str, ...]) -> Callable[[], dict[str, Any]]:
    """The receipt page's form as a browser posts it (the token's CSRF value, an answer the page offers)."""

    def form() -> dict[str, Any]:
        return {
            "csrf": csrf,
            "name": "Jo Bloggs",
            "organisation": "Northshire Police, PC",
            "answer": choices[0],
            "next_step": "Passed to the duty inspector",
            "unclear": "",
        }

    return form


def corrupt(body: bytes, at: int, junk: bytes) -> bytes:
    """``junk`` (invalid UTF-8, a stray percent) spliced in at ``at`` modulo the length."""
    where = at % (len(body) + 1)
    return body[:where] + junk + body[where:]


invalid_utf8 = st.sampled_from(
    [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"%", b"%FF", b"%ED%A0%80"]
)
