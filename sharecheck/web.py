"""The web application with every configured channel mounted: Slack, Teams and the receipt page."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime
from bot.web import MAX_BODY, build_core_app


def build_app(runtime: Runtime, max_body: int = MAX_BODY) -> web.Application:
    app = build_core_app(runtime, max_body)
    settings = runtime.settings
    if settings.slack_enabled:
        from adapters.slack import mount_slack  # lazily: slack-bolt loads only when Slack is on

        mount_slack(app, runtime)
    if settings.sharecheck_public_url is not None:
        from adapters.receipt import mount_receipts  # receipt links exist only with a public URL

        mount_receipts(app, runtime)
    if settings.teams_enabled:
        # only with credentials or emulator mode asked for: otherwise /api/messages is a 404, not an open door
        from adapters.teams import mount_teams  # lazily: the Agents SDK loads only when Teams is on

        mount_teams(app, runtime)
    return app
