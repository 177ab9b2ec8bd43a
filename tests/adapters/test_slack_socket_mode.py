"""Socket Mode (SLACK_APP_TOKEN) against a local stand-in for Slack's WebSocket: the real slack-bolt handler and
slack_sdk's aiohttp Socket Mode client, our server's lifespan, the fake Web API answering apps.connections.open."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from adapters.slack import SLACK_ADAPTER
from bot.clock import ManualClock
from bot.db.models import Check
from bot.runtime import Runtime
from sharecheck.web import build_app
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.settings import make_settings
from tests.support.slack_requests import command_body, input_values, view_payload

TEAM, USER = "T0000001", "U0000001"
HELLO = {
    "type": "hello",
    "num_connections": 1,
    "debug_info": {"host": "applink-stand-in", "build_number": 1, "approximate_connection_time": 18060},
    "connection_info": {"app_id": "A0SHARECHK"},
}


@dataclass
class SocketStandIn:
    """Slack's end of a Socket Mode connection: says hello, pushes envelopes, collects the app's acks."""

    connected: asyncio.Event = field(default_factory=asyncio.Event)
    acks: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    tokens: list[str] = field(default_factory=list)
    refuse: bool = False
    """Answer the WebSocket handshake with 503 (Slack's edge unreachable or failing)."""
    handshakes: int = 0
    _ws: web.WebSocketResponse | None = None
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        # Slack's URL carries a ticket; the app must connect to it as given
        self.url = f"ws://127.0.0.1:{port}/link/?ticket=t-1&app_id=A0SHARECHK"
        return self.url

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.StreamResponse:
        self.handshakes += 1
        if self.refuse:
            return web.Response(status=503, text="unavailable")
        self.tokens.append(request.query.get("ticket", ""))
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_json(HELLO)
        self.connected.set()
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await self.acks.put(json.loads(message.data))
        return ws

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        assert self._ws is not None
        envelope_id = str(uuid.uuid4())
        await self._ws.send_json(
            {"envelope_id": envelope_id, "payload": payload, "type": kind, "accepts_response_payload": True}
        )
        return envelope_id

    async def ack_for(self, envelope_id: str, within: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                ack = await self.acks.get()
                if ack.get("envelope_id") == envelope_id:
                    return ack


@asynccontextmanager
async def socket_server(
    db_url: str, clock: ManualClock, app_token: str | None = None, refuse: bool = False
) -> AsyncIterator[tuple[Runtime, FakeSlack, SocketStandIn, TestClient[Any, Any]]]:
    fake = FakeSlack()
    await fake.start()
    stand_in = SocketStandIn(refuse=refuse)
    fake.socket_url = await stand_in.start()
    # Socket Mode only: no signing secret, so no HTTP endpoint for Slack (local development without a public URL)
    settings = make_settings(
        db_url, slack_bot_token=BOT_TOKEN, slack_app_token=app_token or fake.app_token, slack_api_url=fake.api_url
    )
    runtime = await Runtime.create(settings, clock=clock, migrate=True)
    try:
        # the server's start-up (the adapter's lifespan) opens the Socket Mode connection
        async with asyncio.timeout(10), TestClient(TestServer(build_app(runtime))) as client:
            assert client.app[SLACK_ADAPTER].socket_mode and not client.app[SLACK_ADAPTER].http_enabled
            yield runtime, fake, stand_in, client
            await client.app[SLACK_ADAPTER].drain()
    finally:
        await runtime.close()
        await stand_in.stop()
        await fake.stop()


@pytest.fixture
async def socket_stack(sqlite_url: str, clock: ManualClock) -> AsyncIterator[tuple[Runtime, FakeSlack, SocketStandIn]]:
    async with socket_server(sqlite_url, clock) as (runtime, fake, stand_in, _):
        async with asyncio.timeout(5):
            await stand_in.connected.wait()
        yield runtime, fake, stand_in


async def test_a_slash_command_over_socket_mode_is_acked_and_starts_the_check(
    socket_stack: tuple[Runtime, FakeSlack, SocketStandIn],
) -> None:
    runtime, fake, stand_in = socket_stack
    [opened] = fake.calls_to("apps.connections.open")
    assert opened.token == fake.app_token  # the app-level token, not the bot token
    assert stand_in.tokens == ["t-1"]

    payload = dict(parse_qsl(command_body(TEAM, USER, "", fake.response_url()), keep_blank_values=True))
    envelope_id = await stand_in.push("slash_commands", payload)
    ack = await stand_in.ack_for(envelope_id)
    assert ack["envelope_id"] == envelope_id, "acknowledged at once, the rest follows"
    # typed in a channel: the ack itself tells them (privately) that the check is in the DM
    assert "I have sent you a private message" in ack["payload"]["text"]

    # the check starts in the DM, through the Web API with the bot token, as over HTTP
    await fake.wait_calls("chat.postMessage")
    [first] = fake.dms_to(USER)
    assert "sc:choice:" in json.dumps(first.blocks) or "sc:form" in json.dumps(first.blocks)
    assert {c.token for c in fake.calls_to("chat.postMessage")} == {BOT_TOKEN}
    assert fake.calls_to("response_url") == [], "said once, in the ack"
    async with runtime.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Check)) == 1

    # the first step is a form: its modal was opened with the command's trigger; the submission comes as an
    # "interactive" envelope, is acked (the next form takes its place), and the message moves on to the next step
    [opened] = fake.calls_to("views.open")
    view = opened.args["view"] if isinstance(opened.args["view"], dict) else json.loads(opened.args["view"])
    values = input_values(view, {"sc_f:immediate_danger": "no", "sc_f:request_context": "own_initiative"})
    envelope_id = await stand_in.push(
        "interactive", view_payload(TEAM, USER, {"id": "V1", **view}, values, "view_submission")
    )
    ack = await stand_in.ack_for(envelope_id)
    assert ack["payload"]["response_action"] == "update", ack
    assert json.loads(ack["payload"]["view"]["private_metadata"])["s"] == "gates"
    await fake.wait_for(lambda: first.updates >= 1)
    async with runtime.sessions() as s:
        assert await s.scalar(select(Check.revision)) == 1


async def test_a_malformed_envelope_is_not_acked_and_nothing_starts(
    socket_stack: tuple[Runtime, FakeSlack, SocketStandIn],
) -> None:
    _, fake, stand_in = socket_stack
    bad = await stand_in.push("slash_commands", {"command": "/share-check", "team_id": "T<script>", "user_id": USER})
    good = await stand_in.push(
        "slash_commands", dict(parse_qsl(command_body(TEAM, USER, "help", fake.response_url()), keep_blank_values=True))
    )
    ack = await stand_in.ack_for(good)  # envelopes are answered in turn: the bad one has had its chance
    assert ack["envelope_id"] == good
    assert all(a.get("envelope_id") != bad for a in [ack, *stand_in.acks._queue])  # type: ignore[attr-defined]
    [helped] = await fake.wait_calls("response_url")
    assert "ShareCheck" in json.dumps(helped.args["blocks"])
    assert fake.calls_to("chat.postMessage") == []


async def test_a_refused_app_token_is_one_clear_error_and_the_server_still_serves(
    sqlite_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with socket_server(sqlite_url, clock, app_token="xapp-1-revoked") as (_, fake, stand_in, client):
        assert (await client.get("/healthz")).status == 200  # start-up did not wait for Slack
        error = await fake.wait_for(
            lambda: [r for r in caplog.records if r.levelno == logging.ERROR and "Socket Mode is off" in r.getMessage()]
        )
        assert "invalid_auth" in error[0].getMessage() and "SLACK_APP_TOKEN" in error[0].getMessage()
        assert len([c for c in fake.calls if c.method == "apps.connections.open"]) == 1  # asked once, no loop
        assert stand_in.handshakes == 0
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith(("sharecheck", "adapters"))]


async def test_an_unreachable_socket_does_not_hold_up_start_up_or_shutdown(
    sqlite_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with socket_server(sqlite_url, clock, refuse=True) as (_, fake, stand_in, client):
        await fake.wait_for(lambda: stand_in.handshakes >= 1)  # it is trying
        assert (await client.get("/healthz")).status == 200
        assert not stand_in.connected.is_set()
        # slack_sdk's retry is logged as one line, not a traceback every ten seconds
        failed = await fake.wait_for(
            lambda: [r for r in caplog.records if r.getMessage().startswith("Failed to connect")]
        )
        assert failed[0].exc_info is None
    # leaving the block shut the server down (within socket_server's 10 s) while the connection was still failing
