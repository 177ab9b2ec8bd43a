"""A stand-in for the Bot Framework connector (the service Teams gives as serviceUrl), on 127.0.0.1.

It records what the bot sends and answers with ids, as the real service does: new messages
(POST /v3/conversations/{id}/activities), replies (POST .../activities/{replyToId}), updates
(PUT .../activities/{id}) and new conversations (POST /v3/conversations). It can be told to answer
429 or 5xx for the next requests, and to add latency.

It refuses what Microsoft's Agents Playground (and the real service) refuses, so the fast tests catch the same
faults: a JSON null where the activity schema wants a value (``"id": null``, ``"locale": null``: 400
``BadArgument``), a conversation it does not know (404 ``ConversationNotFound``), and an update of an activity it
never delivered in that conversation (404 ``ActivityNotFound``). It knows the conversations it created and those
its client has sent from: ``tests.support.teams.activity`` opens each one it builds an activity for, as a Teams
client would (``FakeConnector.open``).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: dict[str, Any]
    authorization: str | None
    status: int = 200
    response_id: str | None = None

    @property
    def kind(self) -> str:
        if self.path == "/v3/conversations":
            return "create"
        if self.method == "PUT":
            return "update"
        return "reply" if self.activity_id else "send"

    def cards(self) -> list[dict[str, Any]]:
        return [
            a["content"]
            for a in self.body.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]


@dataclass
class FakeConnector:
    latency: float = 0.0
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[int, float | None, str | None]] = field(default_factory=list)
    """(status, Retry-After, conversation or None for any): answers for the next requests, in order."""
    record: bool = True
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    port: int = 0
    conversations: set[str] = field(default_factory=set)
    """Conversations this connector knows: created by the bot, or opened by the client (``open``)."""
    activities: dict[str, str] = field(default_factory=dict)
    """Activity id -> conversation id, for every activity this connector delivered (what an update may name)."""
    _serving: ClassVar[dict[str, FakeConnector]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @classmethod
    def open(cls, service_url: str, conversation_id: str) -> None:
        """A client sent an activity from this conversation: the connector serving ``service_url`` knows it now.

        A no-op for a service URL no running fake serves (tests that point the bot elsewhere)."""
        connector = cls._serving.get(service_url)
        if connector is not None:
            connector.conversations.add(conversation_id)

    def fail_next(
        self, status: int, times: int = 1, retry_after: float | None = None, conversation: str | None = None
    ) -> None:
        """Answer the next ``times`` requests (to ``conversation`` only, if given) with ``status``."""
        self.failures.extend([(status, retry_after, conversation)] * times)

    def _take_failure(self, conversation: str | None) -> tuple[int, float | None, str | None] | None:
        for i, failure in enumerate(self.failures):
            if failure[2] is None or failure[2] == conversation:
                return self.failures.pop(i)
        return None

    def cards(self) -> list[dict[str, Any]]:
        """Cards delivered (accepted by the connector), oldest first."""
        return [card for call in self.calls if call.status < 300 for card in call.cards()]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._activity)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._activity)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._activity)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        FakeConnector._serving[self.url] = self

    async def stop(self) -> None:
        FakeConnector._serving.pop(self.url, None)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(
        self, request: web.Request, result: dict[str, Any], refusal: tuple[int, dict[str, Any]] | None = None
    ) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        body = await request.json()
        if refusal is None:
            refusal = _bad_argument(body)
        # an injected failure is what the service answers a valid request with; a refusal comes before it
        failure = self._take_failure(request.match_info.get("cid")) if refusal is None else None
        status = refusal[0] if refusal else failure[0] if failure else 201 if request.method == "POST" else 200
        if self.record:
            call = Call(
                request.method,
                request.path,
                request.match_info.get("cid"),
                request.match_info.get("aid"),
                body,
                request.headers.get("Authorization"),
                status,
                None if refusal or failure else result.get("activityId") or result.get("id"),
            )
            self.calls.append(call)
        if refusal is not None:
            return web.json_response(refusal[1], status=status)
        if failure is not None:
            headers = {"Retry-After": str(failure[1])} if failure[1] is not None else {}
            code = "Throttled" if status == 429 else "BadArgument" if status == 400 else "ServiceError"
            return web.json_response({"error": {"code": code}}, status=status, headers=headers)
        return web.json_response(result, status=status)

    async def _activity(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        aid = request.match_info.get("aid")
        refusal: tuple[int, dict[str, Any]] | None = None
        if cid not in self.conversations:
            refusal = _error(404, "ConversationNotFound", "Conversation not found.")
        elif request.method == "PUT" and self.activities.get(aid or "") != cid:
            refusal = _error(404, "ActivityNotFound", "Activity not found.")
        new_id = aid if request.method == "PUT" and aid else f"act-{next(self._ids)}"
        response = await self._answer(request, {"id": new_id}, refusal)
        if response.status < 300:
            self.activities[new_id] = cid
        return response

    async def _create(self, request: web.Request) -> web.Response:
        n = next(self._ids)
        response = await self._answer(request, {"id": f"a:personal-{n}", "activityId": f"act-{n}"})
        if response.status < 300:
            self.conversations.add(f"a:personal-{n}")
        return response


FREE_FORM = frozenset({"content", "value", "channelData", "properties"})
"""Fields whose contents belong to someone else's schema (a card, an invoke's value, channel data): not checked."""


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


def _bad_argument(body: Any) -> tuple[int, dict[str, Any]] | None:
    """A 400 like the Playground's for the first JSON null in the activity (or conversation parameters)."""
    where = _first_null(body, "")
    if where is None:
        return None
    return _error(400, "BadArgument", f"Invalid value for '{where}': null is not allowed")


def _first_null(node: Any, path: str) -> str | None:
    if node is None:
        return path or "body"
    if isinstance(node, dict):
        for key, value in node.items():
            if key in FREE_FORM and value is not None:
                continue
            found = _first_null(value, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found = _first_null(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None
