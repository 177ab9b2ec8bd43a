"""Slack: slash command, interactivity and Socket Mode through slack-bolt, rendered with Block Kit."""

from __future__ import annotations

from aiohttp import web

from adapters.slack.app import SlackAdapter
from adapters.slack.oauth import INSTALL_PATH, REDIRECT_PATH
from bot.runtime import Runtime
from bot.web import accept_bodies

SLACK_EVENTS = "/slack/events"
SLACK_ADAPTER = web.AppKey("slack_adapter", SlackAdapter)


def mount_slack(app: web.Application, runtime: Runtime) -> None:
    """Add ``POST /slack/events`` (when a signing secret is set), with OAuth the install page and its redirect,
    and the adapter's lifespan to ``app``."""
    adapter = SlackAdapter(runtime)
    app[SLACK_ADAPTER] = adapter
    if adapter.http_enabled:
        app.router.add_post(SLACK_EVENTS, adapter.handle)
        # slash commands and interactivity come as forms, the Events API as JSON
        accept_bodies(app, SLACK_EVENTS, "application/x-www-form-urlencoded", "application/json")
    if adapter.installations is not None:
        app.router.add_get(INSTALL_PATH, adapter.install)
        app.router.add_get(REDIRECT_PATH, adapter.oauth_redirect)
    app.cleanup_ctx.append(adapter.lifespan)


__all__ = ["SLACK_ADAPTER", "SLACK_EVENTS", "SlackAdapter", "mount_slack"]
