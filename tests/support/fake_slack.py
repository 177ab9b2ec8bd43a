"""A local stand-in for the Slack Web API: an aiohttp server on 127.0.0.1 that records calls and answers as Slack does.

It keeps the messages it was asked to post and update, so a test can read what the practitioner would see and
click its buttons. Failures (``ok: false``) and HTTP 429 with Retry-After can be queued per method.

Several workspaces: each bot token belongs to one workspace (team). ``authorize`` plays Slack's consent screen
and gives a one-time code that ``oauth.v2.access`` exchanges, with the app's client id and secret, for a new
workspace bot token, answering as Slack does; ``uninstall`` revokes a workspace's tokens. A user placed in a
workspace (``members``) cannot be reached with another workspace's token. ``apps.connections.open`` answers an
app-level token with ``socket_url`` (Socket Mode).

Modals: ``views.open`` exchanges a trigger id once (``exchanged_trigger_id`` after), ``views.update`` finds the
view by id or external id and checks its hash; both refuse with ``invalid_arguments`` a view that Slack would
refuse (``view_problems``: slack_sdk's View model and the rules it leaves out).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.views import View

BOT_USER = "UBOT0001"
BOT_TOKEN = "xoxb-test-token"
APP_ID = "A0SHARECHK"
BOT_SCOPES = "commands,chat:write,im:write,users:read"


class SlackError(Exception):
    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        """``response_metadata.messages``: what Slack says was wrong with the arguments."""


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    status: int = 200
    team: str | None = None
    """The workspace the call's token belongs to."""


@dataclass
class Failure:
    error: str | None = None
    """``ok: false`` with this error; None with retry_after set means HTTP 429."""
    retry_after: int | None = None
    status: int | None = None
    """An HTTP error status (500, 503) with a plain-text body, as a load balancer in front of Slack answers."""


@dataclass
class Message:
    channel: str
    ts: str
    blocks: list[dict[str, Any]]
    text: str
    updates: int = 0


@dataclass
class FakeSlack:
    token: str = BOT_TOKEN
    token_team: str = "T0000001"
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    """By ts, in posting order."""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)
    """Users who cannot be reached, with the error Slack gives (user_not_found, account_inactive)."""
    delay: float = 0.0
    """Seconds every API call takes (a slow Slack)."""
    tokens: dict[str, str] = field(default_factory=dict)
    """Bot tokens issued by the install flow, with their workspace (besides ``token`` for ``token_team``)."""
    revoked: set[str] = field(default_factory=set)
    members: dict[str, str] = field(default_factory=dict)
    """User id -> their workspace, for users a test places in one (others are anyone's)."""
    client_id: str = "1111.2222"
    client_secret: str = "fake-client-secret"
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    app_token: str = "xapp-1-test"
    socket_url: str = ""
    """What apps.connections.open answers (Socket Mode): a ws:// address of the test's stand-in."""
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Modals opened (views.open) and as last updated (views.update), by view id."""
    triggers_used: set[str] = field(default_factory=set)
    """Trigger ids already exchanged for a view: each opens one only."""
    _runner: web.AppRunner | None = None
    _busy: int = 0
    """API calls being answered now (a slow Slack holds them)."""
    _base: str = ""
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._base = f"http://127.0.0.1:{port}"
        return self.api_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self._base}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self._base}/response/{name}"

    # --- scripting ---------------------------------------------------------------------------

    def fail(self, method: str, error: str, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend(Failure(error=error) for _ in range(times))

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend(Failure(retry_after=retry_after) for _ in range(times))

    def server_error(self, method: str, status: int = 503, times: int = 1) -> None:
        self.failures.setdefault(method, []).extend(Failure(status=status) for _ in range(times))

    # --- reading -----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    def follow_ups_asked(self) -> Counter[str]:
        """Successful chat.postMessage calls per follow-up id (read from the answer buttons' values)."""
        counts: Counter[str] = Counter()
        for call in self.calls_to("chat.postMessage"):
            blocks = call.args["blocks"]
            for block in json.loads(blocks) if isinstance(blocks, str) else blocks:
                if block["type"] == "actions" and block["elements"][0]["action_id"].startswith("sc:fu:"):
                    counts[json.loads(block["elements"][0]["value"])["f"]] += 1
        return counts

    async def wait_for(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        """Poll until ``predicate()`` is truthy (the adapter works after its ack), returning its value."""
        deadline = time.monotonic() + within
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within}s; calls so far: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.01)

    async def wait_calls(self, method: str, count: int = 1) -> list[Call]:
        calls: list[Call] = await self.wait_for(lambda: len(self.calls_to(method)) >= count and self.calls_to(method))
        return calls

    # --- the API ------------------------------------------------------------------------------

    async def settled(self, within: float = 10.0) -> None:
        """Wait until no client is connected and no call is being answered: after a client process has exited
        (or was killed), every request it had sent has landed (or never will), so counts are final."""
        assert self._runner is not None and self._runner.server is not None
        server = self._runner.server
        await self.wait_for(lambda: not server.connections and self._busy == 0, within)

    async def _api(self, request: web.Request) -> web.Response:
        self._busy += 1
        try:
            return await self._answer(request)
        finally:
            self._busy -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if raw:
            if request.content_type == "application/json":
                args.update(json.loads(raw))
            else:
                args.update(parse_qsl(raw, keep_blank_values=True))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        if self.delay:
            await asyncio.sleep(self.delay)
        queued = self.failures.get(method)
        if queued:
            failure = queued.pop(0)
            if failure.status is not None:
                self.calls.append(Call(method, args, token, status=failure.status))
                return web.Response(status=failure.status, text="upstream unavailable")
            if failure.retry_after is not None:
                self.calls.append(Call(method, args, token, status=429))
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(failure.retry_after)},
                )
            self.calls.append(Call(method, args, token, status=200))
            return web.json_response({"ok": False, "error": failure.error})
        if method == "oauth.v2.access":
            self.calls.append(Call(method, args, None))
            return web.json_response(self._oauth_v2_access(args, request.headers.get("Authorization", "")))
        if method == "apps.connections.open":
            self.calls.append(Call(method, args, token))
            if token != self.app_token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": self.socket_url})
        team = self.token_team if token == self.token else self.tokens.get(token or "")
        self.calls.append(Call(method, args, token, team=team))
        if token in self.revoked:
            return web.json_response({"ok": False, "error": "token_revoked"})
        if team is None:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        user = args.get("users") or args.get("user")
        if isinstance(user, str) and self.members.get(user, team) != team:
            # another workspace's person: a bot token sees only its own workspace
            return web.json_response({"ok": False, "error": "user_not_found"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            body: dict[str, Any] = self._auth_test(team) if method == "auth.test" else handler(args)
        except SlackError as exc:
            refusal: dict[str, Any] = {"ok": False, "error": exc.error}
            if exc.messages:
                refusal["response_metadata"] = {"messages": exc.messages}
            return web.json_response(refusal)
        return web.json_response({"ok": True, **body})

    async def _response_url(self, request: web.Request) -> web.Response:
        self.calls.append(Call("response_url", await request.json(), None))
        return web.Response(text="ok")

    # --- the install flow -----------------------------------------------------------------------

    def authorize(self, team: str, installer: str, redirect_uri: str | None = None) -> str:
        """What Slack does when someone in ``team`` approves the install: a one-time code for the redirect."""
        code = f"code-{team}-{next(self._ts)}"
        self.codes[code] = {"team": team, "installer": installer, "redirect_uri": redirect_uri}
        self.members.setdefault(installer, team)
        return code

    def uninstall(self, team: str) -> None:
        """The workspace removes the app: its tokens stop working (Slack then sends app_uninstalled)."""
        for token, owner in self.tokens.items():
            if owner == team:
                self.revoked.add(token)

    def token_of(self, team: str) -> str:
        return next(t for t, owner in self.tokens.items() if owner == team and t not in self.revoked)

    def _oauth_v2_access(self, args: dict[str, Any], authorization: str) -> dict[str, Any]:
        # the app authenticates with HTTP Basic (slack_sdk's way) or with client_id and client_secret in the form
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id" if client_id != self.client_id else "bad_client_secret"}
        grant = self.codes.pop(str(args.get("code", "")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        if grant["redirect_uri"] is not None and args.get("redirect_uri") != grant["redirect_uri"]:
            return {"ok": False, "error": "bad_redirect_uri"}
        team = grant["team"]
        token = f"xoxb-{team}-{next(self._ts)}"
        self.tokens[token] = team
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": grant["installer"]},
            "scope": BOT_SCOPES,
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": "UBOT" + team[1:],
            "team": {"id": team, "name": f"Workspace {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _auth_test(self, team: str) -> dict[str, Any]:
        return {
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "sharecheck",
            "team_id": team,
            "user_id": BOT_USER,
            "bot_id": "B0000001",
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args["user"]
        user = {"id": user_id, "name": user_id.lower(), "tz": "Europe/London", "tz_offset": 0, "is_bot": False}
        return {"user": user | self.users.get(user_id, {})}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args["users"])
        if user in self.gone:
            raise SlackError(self.gone[user])
        return {"channel": {"id": "D" + user[1:]}}

    def _next_ts(self) -> str:
        return f"1764000000.{next(self._ts):06d}"

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        blocks = _json(args.get("blocks", []))
        self.messages[ts] = Message(args["channel"], ts, blocks, args.get("text", ""))
        return {"channel": args["channel"], "ts": ts, "message": {"text": args.get("text", ""), "blocks": blocks}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(args["ts"])
        if message is None or message.channel != args["channel"]:
            raise SlackError("message_not_found")
        message.blocks = _json(args.get("blocks", []))
        message.text = args.get("text", "")
        message.updates += 1
        return {"channel": message.channel, "ts": message.ts, "text": message.text}

    def dms_to(self, user: str) -> list[Message]:
        """Messages posted to this user's DM with the bot, in order."""
        return [m for m in self.messages.values() if m.channel == "D" + user[1:]]

    def _chat_postEphemeral(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._next_ts()}

    # --- modals: views.open and views.update, as Slack checks them ----------------------------------

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = args.get("trigger_id")
        if not trigger or "view" not in args:
            raise SlackError("invalid_arguments", ["missing required field: trigger_id" if not trigger else "view"])
        if trigger in self.triggers_used:
            # a trigger id opens one view only (Slack: "The trigger_id was already exchanged in a previous call")
            raise SlackError("exchanged_trigger_id")
        view = self._valid_view(args["view"])
        self.triggers_used.add(trigger)
        view_id = f"V{next(self._ts):08d}"
        return {"view": self._keep_view(view_id, view, root=view_id)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", ["either view_id or external_id is required"])
        if not view_id:
            view_id = next((v for v, kept in self.views.items() if kept.get("external_id") == external_id), None)
        kept = self.views.get(view_id or "")
        if kept is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != kept["hash"]:
            raise SlackError("hash_conflict")
        view = self._valid_view(args["view"])
        assert view_id is not None
        return {"view": self._keep_view(view_id, view, root=kept["root_view_id"])}

    def _valid_view(self, raw: Any) -> dict[str, Any]:
        view: dict[str, Any] = _json(raw)
        problems = view_problems(view)
        if problems:
            raise SlackError("invalid_arguments", problems)
        return view

    def _keep_view(self, view_id: str, view: dict[str, Any], root: str) -> dict[str, Any]:
        """The view as Slack answers with it: ids, a fresh hash, empty state (Slack fills state as people type)."""
        kept = {
            "id": view_id,
            "team_id": self.token_team,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._ts):08x}",
            "root_view_id": root,
            "app_id": APP_ID,
            "bot_id": "B0000001",
            "clear_on_close": False,
            "notify_on_close": False,
            **view,
        }
        self.views[view_id] = kept
        return kept


def view_problems(view: dict[str, Any]) -> list[str]:
    """What Slack would refuse in a modal: slack_sdk's View model (limits on the title, buttons, metadata and
    every block in it), block types it does not know, and the rules the model leaves out (a modal with inputs
    needs a submit button; block ids are unique within a view)."""
    problems: list[str] = []
    if view.get("type") != "modal":
        problems.append("only modals can be opened here")
    try:
        model = View(**view)
        model.to_dict()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
        return [*problems, f"invalid view: {exc}"]
    blocks = view.get("blocks") or []
    if any(parsed is None for parsed in model.blocks or []) or len(model.blocks or []) != len(blocks):
        problems.append("a block of a type Slack does not know")
    if any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
        problems.append("a modal with input blocks needs a submit button")
    elements = [b["element"] for b in blocks if "element" in b] + [e for b in blocks for e in b.get("elements", [])]
    if any(e.get("initial_options") == [] for e in elements if isinstance(e, dict)):
        problems.append("initial_options must not be empty (leave it out)")  # slack_sdk lets this through
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        problems.append("block_id values must be unique in a view")
    return problems


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
