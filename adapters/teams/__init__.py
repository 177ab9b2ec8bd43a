"""Microsoft Teams, on the Microsoft 365 Agents SDK. The SDK is imported only inside this package.

Imports are lazy so ``sharecheck manifest teams`` and the card renderer work without loading the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from bot.runtime import Runtime


def mount_teams(app: web.Application, runtime: Runtime) -> None:
    """Add ``POST /api/messages`` (Bot Framework activities) to the web app."""
    from adapters.teams.endpoint import mount

    mount(app, runtime)


__all__ = ["mount_teams"]
