"""Real token validation, offline: with an app id set, /api/messages takes only Bot Framework tokens.

A local stand-in serves the OpenID metadata and the signing keys (RSA, with a kid); the tests sign tokens with
PyJWT. The Agents SDK 1.9 goes to the JWKS straight from its table of Bot Framework issuers (it does not read
the OpenID metadata), so the test points that table's entry at the stand-in. Outbound calls need an Entra
token, which the test supplies in place of MSAL's network call.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.core.authorization import _entra_issuers
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.db.models import Check, ProcessedRequest
from bot.runtime import Runtime
from sharecheck.web import build_app
from tests.support.fake_connector import FakeConnector
from tests.support.settings import make_settings
from tests.support.teams import activity

APP_ID = "6a1d3c2b-8e4f-4a5b-9c7d-0e1f2a3b4c5d"
ISSUER = _entra_issuers.BOTFRAMEWORK_PUBLIC_ISSUER  # "https://api.botframework.com"
KID = "sharecheck-test-key"
OUTBOUND_TOKEN = "outbound-entra-token"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _key()
FOREIGN_KEY = _key()


class KeyServer:
    """OpenID metadata + JWKS, as login.botframework.com serves them."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self.metadata)
        app.router.add_get("/v1/.well-known/keys", self.keys)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def metadata(self, _r: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": ISSUER,
                "jwks_uri": f"{self.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def keys(self, _r: web.Request) -> web.Response:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(SIGNING_KEY.public_key(), as_dict=True)
        return web.json_response(
            {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]}]}
        )


def token(service_url: str, *, key: rsa.RSAPrivateKey = SIGNING_KEY, kid: str = KID, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": APP_ID,
        "nbf": now - 10,
        "iat": now - 10,
        "exp": now + 3600,
        "serviceurl": service_url,
    }
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
async def keys(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[KeyServer]:
    server = KeyServer()
    await server.start()
    monkeypatch.setitem(_entra_issuers.BOTFRAMEWORK_JWKS_URIS, ISSUER, f"{server.url}/v1/.well-known/keys")

    async def entra_token(self: MsalAuth, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN

    monkeypatch.setattr(MsalAuth, "get_access_token", entra_token)
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


@pytest.fixture
async def secured(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Runtime]:
    settings = make_settings(
        sqlite_url,
        microsoft_app_id=APP_ID,
        microsoft_app_password="not-a-real-secret",
        microsoft_app_tenant_id="72f988bf-0000-4000-8000-00000000beef",
        microsoft_app_type="SingleTenant",
    )
    rt = await Runtime.create(settings, clock=clock, migrate=True)
    yield rt
    await rt.close()


async def _nothing_recorded(runtime: Runtime) -> bool:
    async with runtime.sessions() as s:
        checks = await s.scalar(select(func.count()).select_from(Check))
        seen = await s.scalar(select(func.count()).select_from(ProcessedRequest))
    return checks == 0 and seen == 0


async def test_valid_token_is_served_and_replies_carry_a_bearer_token(
    secured: Runtime, keys: KeyServer, connector: FakeConnector
) -> None:
    async with TestClient(TestServer(build_app(secured))) as client:
        act = activity(connector.url, text="share-check")
        resp = await client.post("/api/messages", json=act, headers={"Authorization": f"Bearer {token(connector.url)}"})
        assert resp.status == 202
        assert [c.authorization for c in connector.calls] == [f"Bearer {OUTBOUND_TOKEN}"]
        start = connector.calls[0].cards()[0]
        cancel = next(a for a in start["actions"] if a.get("verb") == "cancel")
        invoke = activity(
            connector.url,
            "invoke",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": "cancel", "data": cancel["data"]}, "trigger": "manual"},
        )
        resp = await client.post(
            "/api/messages", json=invoke, headers={"Authorization": f"Bearer {token(connector.url)}"}
        )
        assert resp.status == 200
        assert (await resp.json())["statusCode"] == 200
        # the app id guards /api/messages only
        assert (await client.get("/healthz")).status == 200


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Basic dXNlcjpwYXNz", id="not-bearer"),
        pytest.param("Bearer not.a.jwt", id="malformed"),
        pytest.param("Bearer ", id="empty"),
        pytest.param("expired", id="expired"),
        pytest.param("audience", id="wrong-audience"),
        pytest.param("foreign", id="foreign-key"),
        pytest.param("unknown-kid", id="unknown-kid"),
        pytest.param("hs256", id="hs256-none-of-ours"),
    ],
)
async def test_bad_tokens_get_401_and_nothing_happens(
    secured: Runtime, keys: KeyServer, connector: FakeConnector, authorization: str | None
) -> None:
    url = connector.url
    header = {
        "expired": lambda: f"Bearer {token(url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200)}",
        "audience": lambda: f"Bearer {token(url, aud='some-other-bot')}",
        "foreign": lambda: f"Bearer {token(url, key=FOREIGN_KEY)}",
        "unknown-kid": lambda: f"Bearer {token(url, kid='nope')}",
        "hs256": lambda: "Bearer " + jwt.encode({"iss": ISSUER, "aud": APP_ID, "exp": int(time.time()) + 60}, "k" * 32),
    }.get(authorization or "", lambda: authorization)()
    async with TestClient(TestServer(build_app(secured))) as client:
        headers = {"Authorization": header} if header is not None else {}
        resp = await client.post("/api/messages", json=activity(url, text="share-check"), headers=headers)
        assert resp.status == 401
        body = await resp.text()
        assert "Traceback" not in body
    assert connector.calls == []
    assert await _nothing_recorded(secured)


async def test_proactive_with_an_app_id_uses_the_app_identity(
    secured: Runtime, keys: KeyServer, connector: FakeConnector
) -> None:
    from adapters.teams.proactive import send_proactive
    from bot.services.users import get_user
    from dialogs.messages import Info
    from tests.support.teams import TENANT, USER

    async with TestClient(TestServer(build_app(secured))) as client:
        act = activity(connector.url, text="help")
        resp = await client.post("/api/messages", json=act, headers={"Authorization": f"Bearer {token(connector.url)}"})
        assert resp.status == 202
    user = await get_user(secured.sessions, "teams", TENANT, USER)
    assert user is not None
    sent = await send_proactive(secured, user, Info(title="Follow-up"))
    last = connector.calls[-1]
    assert last.kind == "send" and last.response_id == sent
    assert last.authorization == f"Bearer {OUTBOUND_TOKEN}"


async def test_with_tokens_the_tenant_is_the_bodys_and_proxies_are_fine(
    secured: Runtime, keys: KeyServer, connector: FakeConnector
) -> None:
    """Real Teams, behind the reverse proxy of docs/operations.md: the token vouches for the request, so the body's tenant is
    the workspace (two tenants stay apart) and forwarding headers are no reason to refuse."""
    from tests.support.teams import TENANT, USER

    other_tenant = "0d1e2f3a-0000-4000-8000-00000000cafe"
    proxied = {"X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.7;proto=https"}
    async with TestClient(TestServer(build_app(secured))) as client:

        async def post(act: dict[str, Any]) -> Any:
            headers = {"Authorization": f"Bearer {token(connector.url)}", **proxied}
            resp = await client.post("/api/messages", json=act, headers=headers)
            assert resp.status in (200, 202), resp.status
            return await resp.json() if resp.content_type == "application/json" else None

        await post(activity(connector.url, text="share-check"))
        cancel = next(a for a in connector.cards()[-1]["actions"] if a.get("verb") == "cancel")
        # the same user id in another tenant presses the first tenant's check's button: not theirs
        value = {"action": {"type": "Action.Execute", "verb": "cancel", "data": cancel["data"]}, "trigger": "manual"}
        body = await post(
            activity(connector.url, "invoke", name="adaptiveCard/action", value=value, tenant=other_tenant)
        )
        assert "not available to you" in str(body["value"])
    async with secured.sessions() as s:
        [check] = list(await s.scalars(select(Check)))
    assert (check.workspace_id, check.user_id, check.status) == (TENANT, USER, "active")
