"""A stand-in for the Bot Framework connector (the service Teams gives as serviceUrl), on 127.0.0.1.

It records what the bot sends and answers with ids, as the real service does: new messages
(POST /v3/conversations/{id}/activities), replies (POST .../activities/{replyToId}), updates
(PUT .../activities/{id}) and new conversations (POST /v3/conversations). It can be told to answer
429 or 5xx for the next requests, and to add latency.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

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
    failures: list[tuple[int, float | None]] = field(default_factory=list)
    record: bool = True
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        self.failures.extend([(status, retry_after)] * times)

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

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request, result: dict[str, Any]) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        body = await request.json()
        failure = self.failures.pop(0) if self.failures else None
        status = failure[0] if failure else 201 if request.method == "POST" else 200
        if self.record:
            call = Call(
                request.method,
                request.path,
                request.match_info.get("cid"),
                request.match_info.get("aid"),
                body,
                request.headers.get("Authorization"),
                status,
                result.get("activityId") or result.get("id"),
            )
            self.calls.append(call)
        if failure is not None:
            headers = {"Retry-After": str(failure[1])} if failure[1] is not None else {}
            return web.json_response({"error": {"code": "Throttled"}}, status=status, headers=headers)
        return web.json_response(result, status=status)

    async def _activity(self, request: web.Request) -> web.Response:
        aid = request.match_info.get("aid")
        new_id = aid if request.method == "PUT" and aid else f"act-{next(self._ids)}"
        return await self._answer(request, {"id": new_id})

    async def _create(self, request: web.Request) -> web.Response:
        n = next(self._ids)
        return await self._answer(request, {"id": f"a:personal-{n}", "activityId": f"act-{n}"})
