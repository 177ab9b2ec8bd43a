"""Socket Mode for local development: Slack pushes over a WebSocket, so no public URL is needed.

Chosen when SLACK_APP_TOKEN (an ``xapp-`` app-level token) is set; it uses the same Bolt app and listeners.
The connection is made in the background: slack_sdk's own ``connect`` retries forever, so awaited at start-up
it kept the whole server (Teams, health checks) from listening while Slack was unreachable, and a refused app
token looped with a traceback every 10 seconds. Here the token is tried once (a refusal is one clear error),
and an unreachable WebSocket is retried with a fresh URL and backoff while the server runs.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0
"""Seconds one attempt may take (slack_sdk retries inside it) before a new URL is asked for."""
RETRY_MAX = 60.0


def build_socket_handler(bolt: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    if settings.slack_app_token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
    # the app's own Web API client, so apps.connections.open honours SLACK_API_URL too
    return AsyncSocketModeHandler(bolt, app_token=settings.slack_app_token, web_client=bolt.client)


async def keep_connected(handler: AsyncSocketModeHandler, app_token: str, client: AsyncWebClient) -> None:
    """Open the Socket Mode connection; slack_sdk reconnects by itself once it is up."""
    delay = 1.0
    while True:
        try:
            # asked here rather than inside slack_sdk's connect loop, so a refused token is seen and said once
            opened = await client.apps_connections_open(app_token=app_token)
            handler.client.wss_uri = str(opened["url"])
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack: connected in Socket Mode")
            return
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if error != "ratelimited":
                log.error(
                    "slack: Socket Mode is off: apps.connections.open answered %s. Set SLACK_APP_TOKEN to an "
                    "app-level token (xapp-...) with the connections:write scope, and restart.",
                    error or "an error",
                )
                return
            reason = "rate limited"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = type(exc).__name__
        log.warning("slack: Socket Mode could not connect (%s); trying again in %.0f s", reason, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)


class QuietConnectRetries(logging.Filter):
    """slack_sdk logs each failed connection attempt with a full traceback; the message says enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Failed to connect"):
            record.exc_info = None
            record.exc_text = None
        return True
