"""Hostile and random input at /slack/events and /api/messages (hypothesis): never a 500, a clear 4xx,
and nothing stored for a rejected request.

The real server runs in a background thread on 127.0.0.1 (SQLite, Slack through the fake Web API,
Teams in emulator mode replying to the fake connector); hypothesis drives it over plain HTTP.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.runtime import Runtime
from bot.web import build_app
from tests.conftest import make_settings
from tests.support.fake_connector import FakeConnector
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.slack_requests import SECRET, command_body, signature
from tests.support.teams import EMULATOR

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@dataclass
class Server:
    base: str
    db: Path
    connector: str

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.base + path, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            body_text = exc.read().decode("utf-8", "replace")
            assert "Traceback" not in body_text, "a stack trace leaked into a response"
            return int(exc.code)

    def settled_counts(self) -> tuple[int, ...]:
        """Counts once the work an earlier accepted request started after its ack has finished."""
        import time

        last = self.counts()
        while True:
            time.sleep(0.05)
            now = self.counts()
            if now == last:
                return now
            last = now

    def counts(self) -> tuple[int, ...]:
        with sqlite3.connect(self.db) as con:
            return tuple(
                con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed table names
                for t in ("checks", "check_events", "follow_ups", "outbox", "processed_requests")
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        slack = FakeSlack()
        await slack.start()
        connector = FakeConnector(record=False)
        await connector.start()
        settings_ = make_settings(
            f"sqlite+aiosqlite:///{db}",
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=slack.api_url,
            **EMULATOR,
        )
        runtime = await Runtime.create(settings_, migrate=True)
        runner = web.AppRunner(build_app(runtime), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        holder.update(slack=slack, connector=connector, runtime=runtime, runner=runner, port=port)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield Server(f"http://127.0.0.1:{holder['port']}", db, holder["connector"].url)

    async def stop() -> None:
        await holder["runner"].cleanup()
        await holder["runtime"].close()
        await holder["slack"].stop()
        await holder["connector"].stop()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=15,
)
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "<!channel>",
            "<https://evil.example|click>",
            "'; DROP TABLE checks; --",
            "\x00\x01\x1b[31m",
            "\u202eevil",
            "{user:U0BOSS}",
            "../../etc/passwd",
            "%00",
            "💥" * 50,
        ]
    ),
    st.text(min_size=3000, max_size=6000),
)
slack_payload_types = st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut", "nonsense", ""])


@st.composite
def slack_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["command", "payload", "form", "raw"]))
    if kind == "command":
        body = command_body(
            draw(st.text(max_size=20)) or "T0FUZZ", draw(st.text(max_size=20)) or "U0FUZZ", draw(hostile_text)
        )
    elif kind == "payload":
        payload = draw(
            st.fixed_dictionaries(
                {"type": slack_payload_types},
                optional={
                    "team": st.one_of(json_values, st.fixed_dictionaries({"id": st.text(max_size=12)})),
                    "user": st.one_of(json_values, st.fixed_dictionaries({"id": st.text(max_size=12)})),
                    "actions": st.lists(
                        st.dictionaries(
                            st.sampled_from(["action_id", "value", "block_id"]), st.one_of(hostile_text, json_values)
                        ),
                        max_size=3,
                    ),
                    "view": json_values,
                    "trigger_id": st.text(max_size=30),
                    "container": json_values,
                },
            )
        )
        body = urlencode({"payload": json.dumps(payload)})
    elif kind == "form":
        body = urlencode(draw(st.dictionaries(st.text(max_size=15), st.text(max_size=200), max_size=8)))
    else:
        return draw(st.binary(max_size=2000))
    return body.encode()


@given(body=slack_bodies(), forged=st.booleans())
@FUZZ
def test_slack_endpoint_never_fails_and_rejects_cleanly(server: Server, body: bytes, forged: bool) -> None:
    before = server.settled_counts()
    text = body.decode("utf-8", "replace")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers |= signature(text, secret="wrong-secret" if forged else SECRET)
    status = server.post("/slack/events", body, headers)
    assert status < 500
    if forged:
        assert status == 401
    if status >= 400:
        assert server.settled_counts() == before, f"a rejected request ({status}) changed stored state"


@st.composite
def activities(draw: st.DrawFn, connector: str) -> Any:
    kind = draw(st.sampled_from(["activity", "json", "list", "scalar"]))
    if kind == "json":
        return draw(st.dictionaries(st.text(max_size=15), json_values, max_size=8))
    if kind == "list":
        return draw(st.lists(json_values, max_size=4))
    if kind == "scalar":
        return draw(json_values)
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "type": st.one_of(st.sampled_from(["message", "invoke", "conversationUpdate", "event"]), json_values),
                "id": st.one_of(st.text(max_size=20), json_values),
                "text": st.one_of(hostile_text, json_values),
                "name": st.one_of(st.just("adaptiveCard/action"), json_values),
                "value": json_values,
                "serviceUrl": st.one_of(st.just(connector), st.text(max_size=40), json_values),
                "channelId": st.one_of(st.just("msteams"), json_values),
                "from": st.one_of(st.fixed_dictionaries({"id": st.text(max_size=30)}), json_values),
                "conversation": st.one_of(
                    st.fixed_dictionaries({"id": st.text(max_size=30)}, optional={"tenantId": st.text(max_size=36)}),
                    json_values,
                ),
                "recipient": json_values,
                "channelData": json_values,
                "membersAdded": json_values,
            },
        )
    )


@given(data=st.data(), content_type=st.sampled_from(["application/json", "application/json", "text/plain", ""]))
@FUZZ
def test_teams_endpoint_never_fails_and_rejects_cleanly(server: Server, data: st.DataObject, content_type: str) -> None:
    payload = data.draw(activities(server.connector))
    raw = data.draw(st.booleans())
    body = data.draw(st.binary(max_size=500)) if raw else json.dumps(payload).encode()
    before = server.settled_counts()
    headers = {"Content-Type": content_type} if content_type else {}
    status = server.post("/api/messages", body, headers)
    assert status < 500
    if content_type != "application/json":
        assert status == 415
    if status >= 400:
        assert server.settled_counts() == before, f"a rejected activity ({status}) changed stored state"


def test_oversized_bodies_are_refused_on_both_endpoints(server: Server) -> None:
    big = b"x" * (2 * 1024 * 1024)
    for path, ctype in (("/slack/events", "application/x-www-form-urlencoded"), ("/api/messages", "application/json")):
        before = server.counts()
        assert server.post(path, big, {"Content-Type": ctype}) == 413
        assert server.counts() == before


def test_a_replayed_slack_command_is_not_acted_on_twice(server: Server) -> None:
    body = command_body("T0REPLAY", "U0REPLAY", "")
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signature(body)}
    assert server.post("/slack/events", body.encode(), headers) == 200
    first = server.counts()
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert server.post("/slack/events", body.encode(), retry) == 200
    import time

    time.sleep(0.5)  # the handler runs after the ack
    with sqlite3.connect(server.db) as con:
        checks = con.execute("SELECT COUNT(*) FROM checks WHERE user_id = 'U0REPLAY'").fetchone()[0]
    assert checks <= 1
    assert server.counts()[0] <= first[0] + 1
