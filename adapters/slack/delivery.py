"""Slack delivery for the scheduler: a follow-up, notice or digest posted to a person's DM with the bot.

The scheduler owns retries (backoff with jitter, Retry-After, a lease per claim), so this module only says what
happened: ``Delivered`` with where the message landed, ``RetryLater`` for faults that may pass (429, 5xx,
timeouts, connection errors, errors we do not know), ``Undeliverable`` when Slack says the person cannot be
reached. slack_sdk's own retry handlers are kept to one quick retry of a dropped connection: a long sleep inside a
delivery would hold the claim and a concurrency slot while the scheduler could be sending to others.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from adapters.slack.parse import Opened, Posted
from bot.delivery import Delivered, DeliveryResult, RetryLater, Undeliverable
from bot.secretbox import SecretUnreadable
from dialogs.messages import Outbound

log = logging.getLogger(__name__)

TIMEOUT = 10.0
"""Seconds for one Web API call; a slower Slack is a retry later, not a stuck delivery."""
DM_CACHE = 50_000
"""DM channel ids remembered (a conversations.open saved per message to someone already reached)."""

UNREACHABLE = frozenset(
    {
        # the person is gone or cannot receive a DM from the app: retrying will not help
        "user_not_found",
        "users_not_found",
        "account_inactive",
        "user_disabled",
        "user_is_bot",
        "cannot_dm_bot",
        "user_not_visible",
        "messages_tab_disabled",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "team_access_not_granted",
        "invalid_users",
    }
)


TokenSource = Callable[[str], Awaitable[str | None]]
"""Several workspaces: the bot token serving a workspace (team) id, None when the app is not installed there
(it raises ``SecretUnreadable`` when the stored token cannot be decrypted)."""
NOT_INSTALLED = "ShareCheck is not installed in that Slack workspace (uninstalled, or its token was revoked)"


def classify(exc: SlackApiError) -> RetryLater | Undeliverable:
    """Map a Web API failure to what the scheduler should do with it."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error", "")) if isinstance(data, dict) else ""
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        return RetryLater("ratelimited", after=_seconds(headers.get("Retry-After") or headers.get("retry-after")))
    if status >= 500:
        return RetryLater(f"http {status}")
    if error in UNREACHABLE:
        return Undeliverable(error)
    # token, scope or unknown errors: may be fixed by an operator; the scheduler gives up after max_attempts
    return RetryLater(error or f"http {status}")


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


class SlackDeliverer:
    """``bot.delivery.Deliverer`` for Slack: conversations.open, then chat.postMessage with Block Kit.

    With one bot token (SLACK_BOT_TOKEN) it serves every workspace the app is installed in (Enterprise Grid
    org-wide install), so the workspace (team) id only keys the DM cache; a user id is unique within its
    workspace. With ``tokens`` (the OAuth install flow) each message goes with its own workspace's bot token, and
    a workspace that uninstalled the app gets nothing: its messages are undeliverable, without a Web API call.
    """

    def __init__(
        self, token: str | None, api_url: str, timeout: float = TIMEOUT, tokens: TokenSource | None = None
    ) -> None:
        if (token is None) == (tokens is None):
            raise ValueError("give one bot token, or a token source for several workspaces")
        self.tokens = tokens
        self.client = AsyncWebClient(
            token=token,
            base_url=api_url,
            timeout=int(max(1, timeout)),
            retry_handlers=[
                # one retry of a dropped keep-alive connection, after 0.2 s; nothing longer
                AsyncConnectionErrorRetryHandler(
                    max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.2)
                )
            ],
        )
        self._dm: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None

    def _ensure_session(self) -> None:
        # one connection pool for every delivery (slack_sdk opens a new session per call without one);
        # created lazily so it belongs to the loop the scheduler runs in
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64),
                timeout=aiohttp.ClientTimeout(total=self.client.timeout),
            )
            self.client.session = self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self.client.session = None

    async def deliver(self, workspace_id: str, user_id: str, message: Outbound) -> DeliveryResult:
        self._ensure_session()
        blocks, text = render.outbound_blocks(message)
        key = (workspace_id, user_id)
        auth: dict[str, Any] = {}
        if self.tokens is not None:
            # looked up for every message, so an uninstall stops deliveries at once, on every instance
            try:
                token = await self.tokens(workspace_id)
            except SecretUnreadable:
                log.warning("slack delivery to %s: its bot token cannot be decrypted with this key", workspace_id)
                return RetryLater("bot token unreadable: SHARECHECK_SECRET_KEY differs from the one it was saved with")
            if token is None:
                self._dm.pop(key, None)
                return Undeliverable(NOT_INSTALLED)
            auth["token"] = token
        try:
            channel = await self._open(key, auth)
            response = await self.client.chat_postMessage(
                channel=channel, blocks=render.to_dicts(blocks), text=text, **auth
            )
            posted = Posted.model_validate(response.data)
        except SlackApiError as exc:
            self._dm.pop(key, None)  # a stale DM id must not outlive a failure
            result = classify(exc)
            log.info("slack delivery to %s/%s: %s", workspace_id, user_id, result.reason)
            return result
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return RetryLater(type(exc).__name__)
        except ValidationError:
            return RetryLater("unexpected Web API answer")
        return Delivered({"channel": posted.channel, "ts": posted.ts})

    async def _open(self, key: tuple[str, str], auth: dict[str, Any]) -> str:
        channel = self._dm.get(key)
        if channel is not None:
            self._dm.move_to_end(key)
            return channel
        opened = Opened.model_validate((await self.client.conversations_open(users=key[1], **auth)).data)
        self._dm[key] = opened.channel.id
        if len(self._dm) > DM_CACHE:
            self._dm.popitem(last=False)
        return opened.channel.id


__all__ = ["NOT_INSTALLED", "UNREACHABLE", "SlackDeliverer", "TokenSource", "classify"]
