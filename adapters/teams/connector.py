"""Outbound HTTP to the Bot Framework connector over one pooled set of connections per process.

The SDK's RestChannelServiceClientFactory gives every turn (and every proactive send) a connector client
with a brand-new ``aiohttp.ClientSession``, closed at the end of the turn: each reply opens a fresh TCP
(and, in production, TLS) connection. Profiling the card-submission step showed that connection set-up
as the largest cost after our own database work. This factory keeps the SDK's token logic and client
types, but the per-turn sessions share one ``TCPConnector`` (keep-alive pool), so connections are reused.
Tokens stay per session (the SDK sets them as session headers), so nothing about authentication changes.

Its clients also send no JSON nulls. SDK 1.9 serialises new messages (``send_to_conversation``, what every
proactive card uses), updates and new conversations without dropping nulls, and its TurnContext sets
``"id": null`` (and ``"locale": null`` when the reference has none) on every outgoing activity: a connector that
validates its input, as Microsoft's Agents Playground does, answers 400 ``BadArgument``. In-turn replies drop
nulls already and are left alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TypeVar

import aiohttp
from microsoft_agents.activity import (
    Activity,
    ConversationParameters,
    ConversationResourceResponse,
    ResourceResponse,
    RoleTypes,
)
from microsoft_agents.hosting.core import RestChannelServiceClientFactory, TurnContext
from microsoft_agents.hosting.core.authorization import ClaimsIdentity, Connections
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.connector.client import connector_client as _connector_client_module
from microsoft_agents.hosting.core.connector.client import user_token_client as _user_token_client_module
from microsoft_agents.hosting.core.connector.client.connector_client import ConversationsOperations
from microsoft_agents.hosting.core.connector.conversations_base import ConversationsBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

log = logging.getLogger(__name__)


def _cache_product_info() -> None:
    """The SDK 1.9 builds its User-Agent on every client it constructs (two per turn) by asking
    importlib.metadata for a distribution that is not installed ('microsoft-agents-connector'): a scan of
    site-packages each time, about 0.1 ms. The answer cannot change while the process runs, so ask once."""
    for module in (_connector_client_module, _user_token_client_module):
        original = getattr(module, "get_product_info", None)
        if callable(original) and not hasattr(original, "cache_info"):
            module.get_product_info = functools.cache(original)  # type: ignore[attr-defined]


_cache_product_info()

TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
"""Teams expects a turn to answer within about 15 s; a connector call that takes longer has failed."""
POOL_SIZE = 100
KEEPALIVE = 30.0


M = TypeVar("M", Activity, ConversationParameters)


def without_nulls(body: M) -> M:
    """The same message with every null field unset, at any depth: the SDK's ``exclude_unset`` dump then has none."""
    return type(body).model_validate(body.model_dump(by_alias=True, exclude_none=True, mode="json"))


class NullFreeConversations(ConversationsOperations):
    """The SDK's conversation calls, with the bodies it would send with nulls cleaned first."""

    async def send_to_conversation(self, conversation_id: str, body: Activity) -> ResourceResponse:
        return await super().send_to_conversation(conversation_id, without_nulls(body))

    async def update_activity(self, conversation_id: str, activity_id: str, body: Activity) -> ResourceResponse:
        return await super().update_activity(conversation_id, activity_id, without_nulls(body))

    async def create_conversation(self, body: ConversationParameters) -> ConversationResourceResponse:
        return await super().create_conversation(without_nulls(body))


class NullFreeConnectorClient(TeamsConnectorClient):
    def __init__(self, endpoint: str, token: str, *, session: aiohttp.ClientSession | None = None) -> None:
        super().__init__(endpoint, token, session=session)
        self._null_free = NullFreeConversations(self.client)

    @property
    def conversations(self) -> ConversationsBase:
        return self._null_free


class PooledClientFactory(RestChannelServiceClientFactory):
    def __init__(self, connection_manager: Connections) -> None:
        super().__init__(connection_manager)
        self._pool: aiohttp.TCPConnector | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session(self, endpoint: str) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.closed or self._loop is not loop:
            # a pool belongs to one event loop (tests run several); a new loop gets its own
            self._pool = aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=KEEPALIVE)
            self._loop = loop
        base = endpoint if endpoint.endswith("/") else endpoint + "/"
        # connector_owner=False: the SDK closes this session after the turn; the pooled connections stay open.
        # The connector sets no cookies, and a real cookie jar per turn was 5% of a card step's time.
        return aiohttp.ClientSession(
            base_url=base,
            connector=self._pool,
            connector_owner=False,
            timeout=TIMEOUT,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        special = context is not None and (
            context.activity.is_agentic_request()
            or (context.activity.recipient is not None and context.activity.recipient.role == RoleTypes.connector_user)
        )
        if special or not service_url or not audience:
            # agentic and Copilot Studio requests (and the SDK's own argument errors): its path, unchanged
            return await super().create_connector_client(
                context, claims_identity, service_url, audience, scopes, use_anonymous
            )
        provider = (
            self._ANONYMOUS_TOKEN_PROVIDER
            if use_anonymous
            else self._connection_manager.get_token_provider(claims_identity, service_url)
        )
        token = await provider.get_access_token(audience, scopes or claims_identity.get_token_scope())
        return NullFreeConnectorClient(endpoint=service_url, token=token, session=self._session(service_url))

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClient:
        if not use_anonymous:
            return await super().create_user_token_client(context, claims_identity, use_anonymous)
        # the SDK builds one per turn for OAuth flows ShareCheck never uses: at least it costs no new session pool
        return UserTokenClient(
            app_id=claims_identity.get_app_id(),
            endpoint=self._token_service_endpoint,
            token="",
            session=self._session(self._token_service_endpoint),
        )

    async def close(self) -> None:
        if self._pool is not None and not self._pool.closed and self._loop is asyncio.get_running_loop():
            await self._pool.close()
        self._pool = None
