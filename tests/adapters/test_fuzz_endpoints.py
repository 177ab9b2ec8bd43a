"""Hostile and random input at every HTTP endpoint (hypothesis): never a 500, a clear 4xx, and nothing stored
for a rejected request.

Bodies are structure-aware (tests/support/fuzz_payloads.py): real Slack and Bot Framework payloads naming a real
check, with fields of the wrong type, removed or added, hostile or huge strings, nesting up to 100,000 deep and
sizes around the body limit, sent signed, forged or unsigned, in the right content type or a wrong one, sometimes
with invalid UTF-8 spliced in. The real server runs in a background thread on 127.0.0.1 (SQLite, Slack through
the fake Web API, Teams in emulator mode replying to the fake connector, receipt links on); hypothesis drives it
over plain HTTP. Work a Slack request starts after its ack is awaited through the adapter (``Server.settle``).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from adapters.receipt import RECEIPT_LIMITS, ReceiptLimits
from adapters.slack import SLACK_ADAPTER
from adapters.teams.agent import EMULATOR_TENANT
from bot.body_shape import MAX_DEPTH
from bot.checks.models import Actor
from bot.ratelimit import TokenBucket
from bot.runtime import Runtime
from bot.web import MAX_BODY
from dialogs.messages import Prompt
from sharecheck.web import build_app
from tests.support.fake_connector import FakeConnector
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.fuzz_payloads import (
    Doc,
    SlackCheck,
    TeamsCheck,
    corrupt,
    invalid_utf8,
    mutated,
    nest,
    receipt_form,
    slack_templates,
    teams_templates,
)
from tests.support.postgres import temporary_database
from tests.support.receipts import finish, token_of
from tests.support.settings import make_settings
from tests.support.slack_requests import SECRET, command_body, signature
from tests.support.teams import EMULATOR

T = TypeVar("T")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
TEAM, USER = "T0FUZZ", "U0FUZZ"
TEAMS_USER, TEAMS_CONVERSATION = "29:1fuzz-practitioner", "a:1fuzz-personal"
SECRET_KEY = "fuzz-secret-key-for-receipt-forms-0123456789"
TABLES = (
    "checks",
    "check_events",
    "follow_ups",
    "outbox",
    "processed_requests",
    "platform_users",
    "receipt_links",
    "roles",
    "lead_assignments",
    "slack_installations",
)
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SLACK_TYPES = {FORM, JSON}


@dataclass
class Response:
    status: int
    text: str


@dataclass(repr=False)
class Server:
    base: str
    loop: asyncio.AbstractEventLoop
    app: web.Application
    runtime: Runtime
    slack: FakeSlack
    connector: FakeConnector
    slack_check: SlackCheck | None = None
    teams_check: TeamsCheck | None = None
    receipt_token: str = ""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"Server({self.base})")  # hypothesis prints it with every failing example

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` on the server's loop (where the runtime, the adapters and the fakes live)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(60)

    def request(
        self, method: str, path: str, body: bytes | Iterable[bytes] | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {}, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return Response(int(response.status), response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            assert "Traceback" not in text, "a stack trace leaked into a response"
            return Response(int(exc.code), text)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        return self.request("POST", path, body, headers).status

    def settle(self) -> None:
        """Await the work accepted Slack requests started after their acks (Teams turns finish in the request)."""
        if SLACK_ADAPTER in self.app:
            self.run(self.app[SLACK_ADAPTER].drain())

    def counts(self) -> tuple[int, ...]:
        """Rows per table once earlier work has settled."""
        self.settle()
        return tuple(self.run(self._count(f"SELECT COUNT(*) FROM {t}")) for t in TABLES)  # noqa: S608 - fixed names

    def checks_of(self, user: str) -> int:
        return self.run(self._count("SELECT COUNT(*) FROM checks WHERE user_id = :user", user=user))

    async def _count(self, query: str, **params: str) -> int:
        async with self.runtime.engine.connect() as conn:
            return int((await conn.execute(sql(query), params)).scalar_one())


@contextmanager
def serving(database: str, tmp: Path, **overrides: object) -> Iterator[Server]:
    """The real server (on SQLite in ``tmp``, or a throwaway PostgreSQL database) on a loop in a background
    thread, with its fakes."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}
    exits = AsyncExitStack()

    async def start() -> None:
        if database == "postgres":
            url = await exits.enter_async_context(temporary_database())
        else:
            url = f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}"
        slack = FakeSlack()
        await slack.start()
        connector = FakeConnector()
        await connector.start()
        values: dict[str, object] = {"slack_signing_secret": SECRET, "slack_api_url": slack.api_url, **EMULATOR}
        if "slack_client_id" in overrides:
            values |= {"slack_client_id": slack.client_id, "slack_client_secret": slack.client_secret}
        else:
            values |= {"slack_bot_token": BOT_TOKEN}
        values |= {k: v for k, v in overrides.items() if k != "slack_client_id"}
        runtime = await Runtime.create(make_settings(url, **values), migrate=True)
        app = build_app(runtime)
        if RECEIPT_LIMITS in app:
            # the fuzzer is one client sending hundreds of forms: the real limits would answer most with 429
            app[RECEIPT_LIMITS] = ReceiptLimits(TokenBucket(10**6, 10**6), TokenBucket(10**6, 10**6))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        holder.update(slack=slack, connector=connector, runtime=runtime, runner=runner, port=port, app=app)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(60)
    yield Server(
        f"http://127.0.0.1:{holder['port']}",
        loop,
        holder["app"],
        holder["runtime"],
        holder["slack"],
        holder["connector"],
    )

    async def stop() -> None:
        await holder["runner"].cleanup()
        await holder["runtime"].close()
        await holder["slack"].stop()
        await holder["connector"].stop()
        await exits.aclose()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


async def _started(runtime: Runtime, actor: Actor) -> tuple[Any, Prompt]:
    reply = await runtime.checks.start(actor)
    assert isinstance(reply.message, Prompt)
    return reply.check_id, reply.message


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # PostgreSQL too: it refuses text SQLite stores (a NUL character, a lone surrogate half)
    public = {"sharecheck_public_url": "https://sharecheck.example.org", "sharecheck_secret_key": SECRET_KEY}
    with serving(request.param, tmp_path_factory.mktemp("fuzz"), **public) as srv:
        # real checks for the payloads to name, so mutations reach the listeners and the engine
        check_id, prompt = srv.run(_started(srv.runtime, Actor("slack", TEAM, USER)))
        srv.slack_check = SlackCheck(TEAM, USER, check_id, prompt.step_id, prompt.revision, srv.slack.response_url())
        FakeConnector.open(srv.connector.url, TEAMS_CONVERSATION)
        check_id, prompt = srv.run(_started(srv.runtime, Actor("teams", EMULATOR_TENANT, TEAMS_USER)))
        srv.teams_check = TeamsCheck(
            srv.connector.url, TEAMS_CONVERSATION, TEAMS_USER, check_id, prompt.step_id, prompt.revision
        )
        _, done = srv.run(finish(srv.runtime, Actor("slack", TEAM, "U0SENDER"), {}))
        srv.receipt_token = token_of(done)
        yield srv


# --- Slack ------------------------------------------------------------------------------------------------


@st.composite
def slack_requests(draw: st.DrawFn, check: SlackCheck) -> tuple[bytes, str, bool]:
    """(body, content type, whether it is a real shape unmutated): a mutated payload as Slack posts its kind."""
    templates = slack_templates(check)
    kind, template = draw(st.sampled_from(templates))
    doc = draw(mutated(template, strings_only=kind == "command"))
    encoding = draw(st.sampled_from([kind, kind, kind, "command", "payload", "json"]))
    text = {"command": doc.form, "payload": doc.payload_form, "json": doc.dumps}[encoding]()
    proper = JSON if encoding == "json" else FORM
    ctype = draw(
        st.sampled_from(
            [proper] * 4
            + [FORM, JSON, "text/plain", "multipart/form-data; boundary=x", "application/octet-stream"]
            + [f"{FORM}; charset=utf-8", f"{FORM}; charset=latin-1", f"{JSON}; charset=utf-16", f"{FORM}; charset=x"]
        )
    )
    body = text.encode()
    if draw(st.integers(0, 9)) == 0:
        body = corrupt(body, draw(st.integers(0, 10**6)), draw(invalid_utf8))
    real = doc.mutations == 0 and encoding == kind and body == text.encode() and ctype == proper
    return body, ctype, real


def charset_refused(ctype: str) -> bool:
    match = re.search(r"charset=([^;\s]+)", ctype)
    return match is not None and match.group(1).lower() not in ("utf-8", "utf8", "us-ascii")


@given(data=st.data(), auth=st.sampled_from(["signed", "signed", "signed", "forged", "stale", "none"]))
@FUZZ
def test_slack_requests_of_every_shape_never_fail(server: Server, data: st.DataObject, auth: str) -> None:
    assert server.slack_check is not None
    body, ctype, real = data.draw(slack_requests(server.slack_check))
    text = body.decode("utf-8", "replace")
    headers = {"Content-Type": ctype}
    if auth == "signed":
        headers |= signature(text)
    elif auth == "forged":
        headers |= signature(text, secret="wrong-secret")
    elif auth == "stale":
        headers |= signature(text, timestamp=int(time.time()) - 600)
    before = server.counts()
    status = server.post("/slack/events", body, headers)
    assert status < 500
    if len(body) > MAX_BODY:
        assert status == 413
    elif ctype.split(";")[0] not in SLACK_TYPES or charset_refused(ctype):
        assert status == 415
    elif auth != "signed":
        assert status == 401
    elif real:
        assert status == 200, "a payload of the real shape was refused"
    if status >= 400:
        assert server.counts() == before, f"a rejected request ({status}) changed stored state"


@pytest.mark.parametrize("kind", [[], {}, ["block_actions"], {"type": "block_actions"}, 5, None])
def test_a_slack_payload_whose_kind_is_not_text_is_not_handled(server: Server, kind: object) -> None:
    # found by the fuzzer: a list or an object as "type" could not be looked up among the kinds we handle
    for payload in ({"type": kind, "team": {"id": TEAM}}, {"type": "event_callback", "event": {"type": kind}}):
        body = urlencode({"payload": Doc(payload).dumps()})
        status = server.post("/slack/events", body.encode(), {"Content-Type": FORM, **signature(body)})
        assert status == 404, (payload, status)


def test_a_replayed_slack_command_is_not_acted_on_twice(server: Server) -> None:
    body = command_body("T0REPLAY", "U0REPLAY", "")
    headers = {"Content-Type": FORM, **signature(body)}
    before = server.counts()
    assert server.post("/slack/events", body.encode(), headers) == 200
    first = server.counts()  # after the work the ack started
    assert server.checks_of("U0REPLAY") == 1, "the command started no check"
    posted = len(server.slack.calls_to("chat.postMessage"))
    assert posted >= 1

    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert server.post("/slack/events", body.encode(), retry) == 200
    assert server.counts() == first, "the retry changed stored state"
    assert server.checks_of("U0REPLAY") == 1
    assert len(server.slack.calls_to("chat.postMessage")) == posted, "the retry sent the practitioner a message"
    assert first[TABLES.index("processed_requests")] == before[TABLES.index("processed_requests")] + 1


# --- Teams (emulator mode) ------------------------------------------------------------------------------


@given(
    data=st.data(),
    ctype=st.sampled_from(
        [JSON] * 5 + [f"{JSON}; charset=utf-8", f"{JSON}; charset=latin-1", "text/plain", FORM, "application/xml"]
    ),
)
@FUZZ
def test_teams_activities_of_every_shape_never_fail(server: Server, data: st.DataObject, ctype: str) -> None:
    assert server.teams_check is not None
    doc: Doc = data.draw(mutated(data.draw(st.sampled_from(teams_templates(server.teams_check)))))
    body = doc.dumps().encode()
    if data.draw(st.integers(0, 9)) == 0:
        body = corrupt(body, data.draw(st.integers(0, 10**6)), data.draw(invalid_utf8))
    before = server.counts()
    status = server.post("/api/messages", body, {"Content-Type": ctype})
    assert status < 500
    if len(body) > MAX_BODY:
        assert status == 413
    elif ctype.split(";")[0] != JSON or charset_refused(ctype):
        assert status == 415
    elif doc.mutations == 0 and body == doc.dumps().encode():
        assert status < 400, "an activity of the real shape was refused"
    if status >= 400:
        assert server.counts() == before, f"a rejected activity ({status}) changed stored state"


# --- the receipt page -----------------------------------------------------------------------------------


def _receipt_form(server: Server) -> Callable[[], dict[str, Any]]:
    """The form as the page renders it, filled in as a recipient would."""
    page = server.request("GET", f"/r/{server.receipt_token}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    choices = tuple(re.findall(r'name="answer" value="([^"]+)"', page))
    assert csrf is not None and choices, "the receipt page has no form"
    return receipt_form(csrf.group(1), choices)


def _unanswered_form(server: Server) -> Callable[[], dict[str, Any]]:
    """Submitted without choosing an answer: the page asks again (400), so the link stays open for every
    example and each reaches the form's validation."""
    real = _receipt_form(server)
    return lambda: {**real(), "answer": ""}


@given(
    data=st.data(),
    ctype=st.sampled_from([FORM] * 5 + [f"{FORM}; charset=utf-8", f"{FORM}; charset=latin-1", JSON, "text/plain"]),
    token=st.one_of(
        st.just("real"),
        st.just("real"),
        st.text(min_size=1, max_size=60),
        st.sampled_from(["a" * 43, "a" * 5000, "%00", "..%2F..%2Fetc", "%FF%FE", "💥"]),
    ),
    site=st.sampled_from(["same-origin", "same-origin", "cross-site", "none"]),
)
@FUZZ
def test_receipt_page_forms_of_every_shape_never_fail(
    server: Server, data: st.DataObject, ctype: str, token: str, site: str
) -> None:
    path = f"/r/{server.receipt_token}" if token == "real" else "/r/" + quote(token, safe="%")
    doc: Doc = data.draw(mutated(_unanswered_form(server), strings_only=True))
    body = doc.form().encode()
    if data.draw(st.integers(0, 4)) == 0:
        body += b"&answer=" + data.draw(st.sampled_from([b"understood", b"x" * 3000, b"%00", b""]))
    if data.draw(st.integers(0, 9)) == 0:
        body = corrupt(body, data.draw(st.integers(0, 10**6)), data.draw(invalid_utf8))
    before = server.counts()
    status = server.request("GET", path).status
    assert status < 500
    status = server.post(path, body, {"Content-Type": ctype, "Sec-Fetch-Site": site})
    assert status < 500
    if len(body) > MAX_BODY:
        assert status == 413
    elif ctype.split(";")[0] != FORM or charset_refused(ctype):
        # a token no link can have ('/', '{', '}') matches no route: 404 before the body is looked at
        assert status == 415 or (status == 404 and token != "real")
    if status >= 400:
        assert server.counts() == before, f"a refused receipt form ({status}) changed stored state"


@pytest.mark.parametrize("field", ["name", "organisation", "next_step"])
@pytest.mark.parametrize("typed", ["Jo\x00Bloggs", "Jo\x1bBloggs"])
def test_receipt_text_no_column_can_hold_is_asked_again(server: Server, field: str, typed: str) -> None:
    form = {**_receipt_form(server)(), field: typed}
    before = server.counts()
    status = server.post(f"/r/{server.receipt_token}", urlencode(form).encode(), {"Content-Type": FORM})
    assert status == 400, "a NUL reached the database (PostgreSQL refuses it) or a control character was kept"
    assert server.counts() == before


# --- health, metrics and everything else ------------------------------------------------------------------


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.sampled_from(
        [
            "/healthz",
            "/readyz",
            "/metrics",
            "/",
            "/favicon.ico",
            "/slack/events",
            "/api/messages",
            "/r/",
            "/%00",
            "/slack/install",
            "/slack/oauth_redirect",
            "/healthz/..%2F..%2Fetc%2Fpasswd",
            "/r/x/y",
        ]
    ),
    body=st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.sampled_from([nest(100_000, "["), nest(MAX_DEPTH + 1, "{"), "x" * (MAX_BODY + 1)]).map(str.encode),
    ),
    ctype=st.sampled_from([JSON, FORM, "text/plain", "multipart/form-data; boundary=x", f"{JSON}; charset=bogus"]),
)
@FUZZ
def test_health_metrics_and_unknown_routes_never_fail(
    server: Server, method: str, path: str, body: bytes | None, ctype: str
) -> None:
    headers = {"Content-Type": ctype} if body is not None else {}
    response = server.request(method, path, body, headers)
    assert response.status < 500, (method, path, response.status)
    if method == "GET" and path in ("/healthz", "/readyz", "/metrics"):
        assert response.status == 200


# --- extreme nesting and sizes, on every route that takes a body ----------------------------------------------


def _slack_json(inner: str) -> str:
    return '{"type":"event_callback","team_id":"T0FUZZ","event":{"type":"app_uninstalled","x":' + inner + "}}"


def _teams_json(server: Server, inner: str) -> str:
    """A message activity from the seeded conversation whose channelData is ``inner``."""
    return (
        f'{{"type":"message","serviceUrl":"{server.connector.url}","channelId":"msteams",'
        f'"from":{{"id":"{TEAMS_USER}"}},"conversation":{{"id":"{TEAMS_CONVERSATION}"}},"channelData":{inner}}}'
    )


EXTREMES = {
    "deep arrays": nest(100_000, "["),
    "deep objects": nest(100_000, "{"),
    "past the recursion limit": nest(1_100, "["),
    "one past the depth limit": nest(MAX_DEPTH + 1, "["),
    "a string near the size limit": '"' + "x" * (MAX_BODY - 400) + '"',
}


@pytest.mark.parametrize("what", sorted(EXTREMES))
def test_extreme_nesting_and_sizes_get_a_clear_answer(server: Server, what: str) -> None:
    inner = EXTREMES[what]
    accepted = 200 if what.startswith("a string") else 400  # a long string is a fine shape; deep nesting is not

    def post(path: str, text: str, headers: dict[str, str], expected: int) -> None:
        before = server.counts()
        status = server.post(path, text.encode(), headers)
        assert status == (413 if len(text.encode()) > MAX_BODY else expected), (what, path, headers, status)
        if status >= 400:
            assert server.counts() == before

    for text, ctype in ((_slack_json(inner), JSON), (urlencode({"payload": _slack_json(inner)}), FORM)):
        post("/slack/events", text, {"Content-Type": ctype, **signature(text)}, accepted)
        post("/slack/events", text, {"Content-Type": ctype}, 401)  # unsigned
    post("/api/messages", _teams_json(server, inner), {"Content-Type": JSON}, 202 if accepted == 200 else 400)
    form = urlencode({"csrf": "x", "name": inner, "organisation": inner})
    post(f"/r/{server.receipt_token}", form, {"Content-Type": FORM}, 403)  # the form did not come from the page


@pytest.mark.parametrize("path", ["/slack/events", "/api/messages", "/r/token", "/healthz"])
@pytest.mark.parametrize("size", [MAX_BODY, MAX_BODY + 1, 4 * MAX_BODY])
def test_bodies_at_and_past_the_size_limit(server: Server, path: str, size: int) -> None:
    ctype = JSON if path == "/api/messages" else FORM
    body = b"x" * size
    before = server.counts()
    status = server.post(path, body, {"Content-Type": ctype})
    assert status == 413 if size > MAX_BODY else 400 <= status < 500
    # without a Content-Length (chunked), the limit holds while the body is read (/healthz reads none: 405)
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    status = server.request("POST", path, chunks, {"Content-Type": ctype}).status
    assert status == 413 if size > MAX_BODY and path != "/healthz" else 400 <= status < 500
    assert server.counts() == before


# --- Slack OAuth (several workspaces) ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz-oauth")
    with serving("sqlite", tmp, slack_client_id="from the fake", sharecheck_secret_key=SECRET_KEY) as srv:
        check_id, prompt = srv.run(_started(srv.runtime, Actor("slack", TEAM, USER)))
        srv.slack_check = SlackCheck(TEAM, USER, check_id, prompt.step_id, prompt.revision, srv.slack.response_url())
        yield srv


def _install_state(server: Server) -> tuple[str, str]:
    response = server.request("GET", "/slack/install")
    assert response.status == 200
    state = re.search(r"state=([\w-]+)", response.text)
    assert state is not None
    return state.group(1), f"slack-app-oauth-state={state.group(1)}"


@given(
    query=st.dictionaries(
        st.sampled_from(["code", "state", "error", "team", "redirect_uri"]),
        st.one_of(st.text(max_size=50), st.sampled_from(["", "\x00", "a" * 3000, "<script>", "%ff"])),
        max_size=4,
    ),
    with_state=st.sampled_from(["none", "valid", "valid-no-cookie", "cookie-only"]),
)
@FUZZ
def test_slack_oauth_install_and_redirect_never_fail(
    oauth_server: Server, query: dict[str, str], with_state: str
) -> None:
    headers: dict[str, str] = {}
    if with_state != "none":
        state, cookie = _install_state(oauth_server)
        if with_state != "cookie-only":
            query = {**query, "state": state}
        if with_state != "valid-no-cookie":
            headers["Cookie"] = cookie
    qs = urlencode(query, errors="surrogatepass")
    for path in ("/slack/install", "/slack/oauth_redirect"):
        response = oauth_server.request("GET", f"{path}?{qs}", headers=headers)
        assert response.status < 500, (path, response.status)
        assert "<script>" not in response.text


@given(data=st.data())
@FUZZ
def test_slack_requests_for_a_workspace_that_never_installed_never_fail(
    oauth_server: Server, data: st.DataObject
) -> None:
    assert oauth_server.slack_check is not None
    body, ctype, _ = data.draw(slack_requests(oauth_server.slack_check))
    headers = {"Content-Type": ctype, **signature(body.decode("utf-8", "replace"))}
    status = oauth_server.post("/slack/events", body, headers)
    assert status < 500
