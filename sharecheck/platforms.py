"""The platforms this instance can deliver to (the scheduler's outbox goes through these)."""

from __future__ import annotations

from bot.delivery import Deliverer
from bot.runtime import Runtime


def build_deliverers(runtime: Runtime) -> dict[str, Deliverer]:
    """One deliverer per configured platform; each adapter owns its SDK and rendering."""
    deliverers: dict[str, Deliverer] = {}
    settings = runtime.settings
    if settings.slack_oauth_enabled:
        from adapters.slack.delivery import SlackDeliverer  # lazily: slack_sdk loads only when Slack is on
        from adapters.slack.oauth import installations_for

        # several workspaces: each message goes with the bot token its workspace installed
        tokens = installations_for(runtime).bot_token_for
        deliverers["slack"] = SlackDeliverer(None, settings.slack_api_url, tokens=tokens)
    elif settings.slack_bot_token is not None:
        from adapters.slack.delivery import SlackDeliverer

        deliverers["slack"] = SlackDeliverer(settings.slack_bot_token, settings.slack_api_url)

    if settings.teams_enabled:
        # as /api/messages: with credentials or emulator mode only; imported here so the Agents SDK loads only
        # where something is delivered (without Teams, its messages wait in the outbox)
        from adapters.teams.delivery import TeamsDeliverer

        deliverers["teams"] = TeamsDeliverer(runtime)
    return deliverers
