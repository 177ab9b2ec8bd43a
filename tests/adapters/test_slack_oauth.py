"""Slack for several workspaces: the OAuth install flow end to end through the real slack-bolt stack, our server and
database, against the fake Web API (which issues a bot token per workspace from ``oauth.v2.access`` and refuses a
token used on another workspace's people); the scheduler's real deliverer; uninstalls."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text

from adapters.slack import SLACK_ADAPTER
from adapters.slack.delivery import NOT_INSTALLED, SlackDeliverer
from adapters.slack.manifest import TEMPLATE
from adapters.slack.oauth import BOT_SCOPES, SlackInstallations, SlackOAuthStates
from bot.clock import ManualClock
from bot.db.models import FollowUp, OutboxMessage, SlackInstallation
from bot.delivery import RetryLater
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.secretbox import SecretUnreadable
from dialogs.state import Recipient
from sharecheck.platforms import build_deliverers
from sharecheck.server import StartupRefused, check_safe_to_serve
from sharecheck.web import build_app
from tests.support.fake_slack import FakeSlack
from tests.support.settings import make_settings
from tests.support.slack_requests import SECRET, Practitioner, command_body, signature
from tests.support.slack_stack import slack_stack

TEAM_A, ALICE, BOB = "T0000AAA", "U000A001", "U000A002"
TEAM_B, CAROL, DAN = "T0000BBB", "U000B001", "U000B002"
KEY = "test-secret-key-for-slack-tokens"

Stack = tuple[Runtime, FakeSlack, TestClient[Any, Any]]


@asynccontextmanager
async def oauth_stack(db_url: str, clock: ManualClock, **settings: Any) -> AsyncIterator[Stack]:
    fake = FakeSlack()
    await fake.start()
    fake.members.update({ALICE: TEAM_A, BOB: TEAM_A, CAROL: TEAM_B, DAN: TEAM_B})
    runtime = await Runtime.create(
        make_settings(
            db_url,
            slack_client_id=fake.client_id,
            slack_client_secret=fake.client_secret,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            sharecheck_secret_key=KEY,
            **settings,
        ),
        clock=clock,
        migrate=True,
    )
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            yield runtime, fake, client
    finally:
        await runtime.close()
        await fake.stop()


@pytest.fixture
async def stack(db_url: str, clock: ManualClock) -> AsyncIterator[Stack]:
    async with oauth_stack(db_url, clock) as parts:
        yield parts


async def drain(client: TestClient[Any, Any]) -> None:
    async with asyncio.timeout(10):
        await client.app[SLACK_ADAPTER].drain()


async def open_install_page(client: TestClient[Any, Any]) -> tuple[str, str]:
    """GET /slack/install as a browser: the state in the Add to Slack link, and the cookie that goes with it."""
    resp = await client.get("/slack/install")
    assert resp.status == 200, await resp.text()
    page = await resp.text()
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page)
    assert link is not None, page
    state = re.search(r"state=([\w-]+)", link.group(1))
    assert state is not None
    assert "scope=commands,chat:write,im:write,users:read" in link.group(1).replace("%2C", ",").replace("%3A", ":")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"slack-app-oauth-state={state.group(1)};") and "HttpOnly" in cookie
    return state.group(1), f"slack-app-oauth-state={state.group(1)}"


async def install(stack: Stack, team: str, installer: str) -> ClientResponse:
    """A person in ``team`` installs the app: install page, Slack's consent, back to the redirect."""
    _, fake, client = stack
    state, cookie = await open_install_page(client)
    code = fake.authorize(team, installer)
    return await client.get("/slack/oauth_redirect", params={"code": code, "state": state}, headers={"Cookie": cookie})


async def post_event(client: TestClient[Any, Any], team: str, event: dict[str, Any]) -> ClientResponse:
    body = json.dumps(
        {
            "token": "unused-verification-token",
            "team_id": team,
            "api_app_id": "A0SHARECHK",
            "event": {**event, "event_ts": f"{time.time():.6f}"},
            "type": "event_callback",
            "event_id": f"Ev{int(time.time() * 1000)}",
            "event_time": int(time.time()),
        }
    )
    headers = {"Content-Type": "application/json", **signature(body)}
    return await client.post("/slack/events", data=body.encode(), headers=headers)


async def share(stack: Stack, team: str, sender: str, recipient: str) -> Practitioner:
    runtime, fake, client = stack
    person = Practitioner(client, fake, team, sender)
    await person.start()
    await person.complete(runtime.packs.pack(), {"decision": "share", "recipient": Recipient(user_id=recipient)})
    await drain(client)
    return person


def tokens_used(fake: FakeSlack, method: str, channel_or_user: str) -> set[str | None]:
    return {
        c.token
        for c in fake.calls_to(method)
        if channel_or_user in (c.args.get("channel"), c.args.get("users"), c.args.get("user"))
    }


async def installations(runtime: Runtime) -> list[SlackInstallation]:
    async with runtime.sessions() as s:
        return list(await s.scalars(select(SlackInstallation).order_by(SlackInstallation.team_id)))


# --- the whole loop --------------------------------------------------------------------------------


async def test_two_workspaces_install_check_and_follow_up_each_with_its_own_token(stack: Stack) -> None:
    runtime, fake, client = stack
    for team, installer in ((TEAM_A, ALICE), (TEAM_B, CAROL)):
        resp = await install(stack, team, installer)
        assert resp.status == 200, await resp.text()
        assert "Thank you!" in await resp.text()  # Bolt's completion page
    assert [c.args.get("code", "").startswith("code-") for c in fake.calls_to("oauth.v2.access")] == [True, True]
    token_a, token_b = fake.token_of(TEAM_A), fake.token_of(TEAM_B)
    rows = await installations(runtime)
    assert [(r.team_id, r.user_id, r.bot_user_id) for r in rows] == [
        (TEAM_A, ALICE, "UBOT0000AAA"),
        (TEAM_B, CAROL, "UBOT0000BBB"),
    ]
    # encrypted at rest: neither token appears in the database, not even in part
    async with runtime.engine.connect() as conn:
        dump = json.dumps([list(map(str, r)) for r in (await conn.execute(text("SELECT * FROM slack_installations")))])
    assert "xoxb" not in dump and token_a not in dump and rows[0].bot_token and rows[0].bot_token.startswith("v1:")

    # a check in each workspace, answered through signed requests: every call goes with that workspace's token
    # (the fake answers user_not_found to another workspace's token, so a mix-up would stop the check)
    await share(stack, TEAM_A, ALICE, BOB)
    await share(stack, TEAM_B, CAROL, DAN)
    # Bolt learns each bot's ids once per token (auth.test), not before every acknowledgement
    assert sorted(c.token or "" for c in fake.calls_to("auth.test")) == sorted([token_a, token_b] * 2)
    assert tokens_used(fake, "chat.postMessage", "D" + ALICE[1:]) == {token_a}
    assert tokens_used(fake, "chat.update", "D" + ALICE[1:]) == {token_a}
    assert tokens_used(fake, "chat.postMessage", "D" + CAROL[1:]) == {token_b}
    assert tokens_used(fake, "users.info", DAN) == {token_b}
    assert {c.token for c in fake.calls_to("views.open")} == {token_a, token_b}

    # the scheduled follow-ups go to each recipient with their own workspace's token
    deliverers = build_deliverers(runtime)
    assert isinstance(deliverers["slack"], SlackDeliverer) and deliverers["slack"].tokens is not None
    scheduler = Scheduler(runtime, deliverers, instance_id="test")
    try:
        runtime.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
        await scheduler.run_once()
        assert len(fake.dms_to(BOB)) == 1 and len(fake.dms_to(DAN)) == 1
        assert tokens_used(fake, "chat.postMessage", "D" + BOB[1:]) == {token_a}
        assert tokens_used(fake, "chat.postMessage", "D" + DAN[1:]) == {token_b}
        assert tokens_used(fake, "conversations.open", DAN) == {token_b}

        # workspace B removes the app: Slack revokes its token and sends app_uninstalled
        fake.uninstall(TEAM_B)
        resp = await post_event(client, TEAM_B, {"type": "app_uninstalled"})
        assert resp.status == 200, await resp.text()
        assert [r.team_id for r in await installations(runtime)] == [TEAM_A]
        calls_before = len(fake.calls)

        # a day later both recipients are due a nudge: A's goes out, B's stops without a call to Slack
        runtime.clock.advance(timedelta(hours=24))  # type: ignore[attr-defined]
        await scheduler.run_once()
        assert len(fake.dms_to(BOB)) == 2 and len(fake.dms_to(DAN)) == 1
        later = fake.calls[calls_before:]
        assert later and {c.token for c in later} == {token_a}
        assert not any(c.token in fake.revoked for c in later)
        async with runtime.sessions() as s:
            states = dict((await s.execute(select(FollowUp.target_id, FollowUp.state))).all())
            stuck = await s.scalar(select(OutboxMessage).where(OutboxMessage.status.in_(["queued", "claimed"])))
        assert states[BOB] == "awaiting" and states[DAN] == "undeliverable"
        assert stuck is None  # nothing for B left retrying: every message closed at once
        runtime.clock.advance(timedelta(hours=24))  # type: ignore[attr-defined]
        await scheduler.run_once()
        assert not any(c.team == TEAM_B or c.token in fake.revoked for c in fake.calls[calls_before:])
    finally:
        await scheduler.close()

    # someone in B types /share-check after the uninstall: no check, Bolt tells them to reinstall
    posts = len(fake.calls_to("chat.postMessage"))
    resp = await Practitioner(client, fake, TEAM_B, CAROL).post(command_body(TEAM_B, CAROL, "", fake.response_url()))
    assert resp.status == 200
    await drain(client)
    assert "reinstall" in json.dumps(fake.calls[-1].args) and fake.calls[-1].method == "response_url"
    assert len(fake.calls_to("chat.postMessage")) == posts


async def test_the_redirect_refuses_a_forged_replayed_or_cookieless_state(stack: Stack) -> None:
    runtime, fake, client = stack
    state, cookie = await open_install_page(client)
    # no cookie (a link sent to someone else's browser)
    resp = await client.get("/slack/oauth_redirect", params={"code": fake.authorize(TEAM_A, ALICE), "state": state})
    assert resp.status == 400
    # a state this server never issued, with a matching cookie
    forged = {"code": fake.authorize(TEAM_A, ALICE), "state": "forged"}
    resp = await client.get("/slack/oauth_redirect", params=forged, headers={"Cookie": "slack-app-oauth-state=forged"})
    assert resp.status == 401
    # the real one works once
    ok = {"code": fake.authorize(TEAM_A, ALICE), "state": state}
    assert (await client.get("/slack/oauth_redirect", params=ok, headers={"Cookie": cookie})).status == 200
    again = {"code": fake.authorize(TEAM_A, ALICE), "state": state}
    assert (await client.get("/slack/oauth_redirect", params=again, headers={"Cookie": cookie})).status == 401
    # an expired state
    state, cookie = await open_install_page(client)
    runtime.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
    late = {"code": fake.authorize(TEAM_B, CAROL), "state": state}
    assert (await client.get("/slack/oauth_redirect", params=late, headers={"Cookie": cookie})).status == 401
    # a code Slack refuses
    state, cookie = await open_install_page(client)
    bad = {"code": "not-a-code", "state": state}
    assert (await client.get("/slack/oauth_redirect", params=bad, headers={"Cookie": cookie})).status == 401
    assert [r.team_id for r in await installations(runtime)] == [TEAM_A]


async def test_tokens_revoked_deletes_the_installation_only_for_the_bot_token(stack: Stack) -> None:
    runtime, _, client = stack
    assert (await install(stack, TEAM_A, ALICE)).status == 200
    # a person's own token revoked (ShareCheck has none): the installation stays
    resp = await post_event(client, TEAM_A, {"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": []}})
    assert resp.status == 200
    assert [r.team_id for r in await installations(runtime)] == [TEAM_A]
    resp = await post_event(client, TEAM_A, {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOT0000AAA"]}})
    assert resp.status == 200
    assert await installations(runtime) == []
    # a repeat of the event (Slack retries) changes nothing and still gets 200
    resp = await post_event(client, TEAM_A, {"type": "app_uninstalled"})
    assert resp.status == 200


async def test_the_events_url_is_verified_and_malformed_lifecycle_events_are_refused(stack: Stack) -> None:
    _, _, client = stack
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    )
    resp = await client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **signature(body)}
    )
    assert resp.status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in await resp.text()
    resp = await post_event(client, "T<script>", {"type": "app_uninstalled"})
    assert resp.status == 400
    resp = await post_event(client, TEAM_A, {"type": "tokens_revoked", "tokens": {"bot": "not a list"}})
    assert resp.status == 400


# --- the stores, on both databases ---------------------------------------------------------------


async def test_installation_store_seals_tokens_bound_to_their_workspace(runtime: Runtime) -> None:
    from slack_sdk.oauth.installation_store.models.installation import Installation

    store = SlackInstallations(runtime.sessions, runtime.clock, "1111.2222", KEY.encode())
    for team, token in ((TEAM_A, "xoxb-a-1"), (TEAM_B, "xoxb-b-1"), (TEAM_A, "xoxb-a-2")):  # A reinstalls
        await store.async_save(
            Installation(
                team_id=team, user_id=ALICE, bot_token=token, bot_id="B1", bot_user_id="UB", bot_scopes=list(BOT_SCOPES)
            )
        )
    assert await store.bot_token_for(TEAM_A) == "xoxb-a-2" and await store.bot_token_for(TEAM_B) == "xoxb-b-1"
    bot = await store.async_find_bot(enterprise_id=None, team_id=TEAM_A)
    assert bot is not None and bot.bot_token == "xoxb-a-2" and bot.bot_scopes == list(BOT_SCOPES)
    assert len(await installations(runtime)) == 2
    # someone copies A's sealed token onto B's row: it does not open there
    async with runtime.sessions.begin() as s:
        rows = {r.team_id: r for r in await s.scalars(select(SlackInstallation))}
        rows[TEAM_B].bot_token = rows[TEAM_A].bot_token
    with pytest.raises(SecretUnreadable):
        await store.bot_token_for(TEAM_B)
    assert await store.async_find_bot(enterprise_id=None, team_id=TEAM_B) is None  # Bolt: "please reinstall"
    # another SHARECHECK_SECRET_KEY reads nothing; another app (client id) sees nothing
    with pytest.raises(SecretUnreadable):
        await SlackInstallations(runtime.sessions, runtime.clock, "1111.2222", b"another key").bot_token_for(TEAM_A)
    assert (
        await SlackInstallations(runtime.sessions, runtime.clock, "9999.0000", KEY.encode()).bot_token_for(TEAM_A)
        is None
    )
    await store.async_delete_all(enterprise_id=None, team_id=TEAM_A)
    assert await store.bot_token_for(TEAM_A) is None


async def test_oauth_states_are_used_once_and_expire(runtime: Runtime) -> None:
    states = SlackOAuthStates(runtime.sessions, runtime.clock)
    first, second = await states.async_issue(), await states.async_issue()
    assert first != second and len(first) >= 40
    assert await states.async_consume(first) is True
    assert await states.async_consume(first) is False
    assert await states.async_consume("never-issued") is False
    runtime.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    assert await states.async_consume(second) is False


# --- settings --------------------------------------------------------------------------------------


def test_the_oauth_scopes_are_the_manifests() -> None:
    manifest = yaml.safe_load(TEMPLATE.read_text().replace("${socket_mode}", "false").replace("$", ""))
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        ({"slack_client_id": "1.2"}, "both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"),
        ({"slack_client_id": "1.2", "slack_client_secret": "s"}, "without SLACK_SIGNING_SECRET"),
        (
            {
                "slack_client_id": "1.2",
                "slack_client_secret": "s",
                "slack_signing_secret": "x",
                "slack_bot_token": "xoxb-1",
            },
            "not both",
        ),
    ],
)
def test_serve_refuses_an_ambiguous_or_unverifiable_oauth_setup(settings: dict[str, str], refusal: str) -> None:
    with pytest.raises(StartupRefused, match=refusal):
        check_safe_to_serve(make_settings("sqlite+aiosqlite://", **settings))


def test_serve_refuses_oauth_on_postgres_without_a_secret_key() -> None:
    settings = make_settings(
        "postgresql+asyncpg://sharecheck@db/sharecheck",
        slack_client_id="1.2",
        slack_client_secret="s",
        slack_signing_secret="x",
    )
    with pytest.raises(StartupRefused, match="SHARECHECK_SECRET_KEY"):
        check_safe_to_serve(settings)
    check_safe_to_serve(settings.model_copy(update={"sharecheck_secret_key": "k"}))


async def test_single_token_mode_has_no_install_routes(sqlite_url: str, clock: ManualClock) -> None:
    runtime = await Runtime.create(
        make_settings(sqlite_url, slack_bot_token="xoxb-1", slack_signing_secret=SECRET), clock=clock, migrate=True
    )
    try:
        async with TestClient(TestServer(build_app(runtime))) as client:
            assert (await client.get("/slack/install")).status == 404
            assert (await client.get("/slack/oauth_redirect")).status == 404
        deliverer = build_deliverers(runtime)["slack"]
        assert isinstance(deliverer, SlackDeliverer) and deliverer.tokens is None
        await deliverer.aclose()
    finally:
        await runtime.close()


async def test_a_delivery_to_a_workspace_without_an_installation_is_undeliverable_at_once(runtime: Runtime) -> None:
    async def nobody(_team: str) -> str | None:
        return None

    deliverer = SlackDeliverer(None, "http://127.0.0.1:9/api/", tokens=nobody)  # nothing listens: no call is made
    from dialogs.messages import Info

    try:
        result = await deliverer.deliver(TEAM_B, DAN, Info(title="x", lines=()))
    finally:
        await deliverer.aclose()
    assert getattr(result, "reason", None) == NOT_INSTALLED

    async def unreadable(_team: str) -> str | None:
        raise SecretUnreadable("another key")

    # a token the key cannot open is an operator's fault: the message waits (retried), it is not closed
    deliverer = SlackDeliverer(None, "http://127.0.0.1:9/api/", tokens=unreadable)
    try:
        result = await deliverer.deliver(TEAM_B, DAN, Info(title="x", lines=()))
    finally:
        await deliverer.aclose()
    assert isinstance(result, RetryLater) and "SHARECHECK_SECRET_KEY" in result.reason


async def test_scheduled_digests_go_to_each_workspaces_lead_with_its_token(stack: Stack) -> None:
    runtime, fake, _ = stack
    lead_a, lead_b = "U000A0LD", "U000B0LD"
    fake.members.update({lead_a: TEAM_A, lead_b: TEAM_B})
    for team, installer, lead in ((TEAM_A, ALICE, lead_a), (TEAM_B, CAROL, lead_b)):
        assert (await install(stack, team, installer)).status == 200
        await runtime.leads.assign("slack", team, lead, "workspace", "", runtime.clock.now())  # Tue 24 Nov
    scheduler = Scheduler(runtime, build_deliverers(runtime), instance_id="test")
    try:
        runtime.clock.set(datetime(2026, 11, 30, 9, 1, tzinfo=UTC))  # type: ignore[attr-defined]  # Monday 09:01
        await scheduler.run_once()
    finally:
        await scheduler.close()
    assert len(fake.dms_to(lead_a)) == 1 and len(fake.dms_to(lead_b)) == 1
    assert tokens_used(fake, "chat.postMessage", "D" + lead_a[1:]) == {fake.token_of(TEAM_A)}
    assert tokens_used(fake, "chat.postMessage", "D" + lead_b[1:]) == {fake.token_of(TEAM_B)}


async def test_single_token_mode_logs_an_uninstall_and_calls_nothing(
    sqlite_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with slack_stack(sqlite_url, clock) as (_, fake, client):
        resp = await post_event(client, "T0000001", {"type": "app_uninstalled"})
        assert resp.status == 200
        assert fake.calls == []  # no auth.test with a token that no longer works
    assert any("app_uninstalled in workspace T0000001" in r.getMessage() for r in caplog.records)
