"""Socket Mode for local development: Slack pushes over a WebSocket, so no public URL is needed.

Chosen when SLACK_APP_TOKEN (an ``xapp-`` app-level token) is set; it uses the same Bolt app and listeners.
"""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.settings import Settings


def build_socket_handler(bolt: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    if settings.slack_app_token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
    # the app's own Web API client, so apps.connections.open honours SLACK_API_URL too
    return AsyncSocketModeHandler(bolt, app_token=settings.slack_app_token, web_client=bolt.client)
