"""What ``sharecheck serve`` says as it starts: which surfaces are on and where, why the others are off, and how
to try a check.

Read from the settings and from the routes the app actually mounted, so it cannot say a surface is on that is
not. Each line is one small function of ``Serving`` in ``SURFACES``: a new surface or setting is one more function.
Nothing secret is shown: no token, password or database credentials.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import URL, make_url

from bot.settings import Settings

SLACK_EVENTS = "/slack/events"
TEAMS_MESSAGES = "/api/messages"
RECEIPTS = "/r/{token}"


def env_name(field: str) -> str:
    """The environment variable of a setting (pydantic-settings reads the field's name in capitals)."""
    if field not in Settings.model_fields:
        raise KeyError(f"no setting {field!r}")
    return field.upper()


def known_settings(*fields: str) -> list[str]:
    """The environment variables of those settings that exist (some arrive with later features)."""
    return [env_name(field) for field in fields if field in Settings.model_fields]


@dataclass(frozen=True)
class Surface:
    name: str
    on: bool | None
    """None: always there (it has no off state)."""
    detail: str

    def line(self) -> str:
        state = "" if self.on is None else ("on: " if self.on else "off: ")
        return f"  {self.name:<15} {state}{self.detail}"


@dataclass(frozen=True)
class Serving:
    settings: Settings
    app: web.Application
    scheduler: bool

    def mounted(self, path: str) -> bool:
        return any(resource.canonical == path for resource in self.app.router.resources())

    @property
    def base(self) -> str:
        """Where this machine reaches the server: a wildcard address is reached on loopback."""
        host = self.settings.host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return f"http://{host}:{self.settings.port}"
        if address.is_unspecified:
            address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
        shown = f"[{address}]" if address.version == 6 else str(address)
        return f"http://{shown}:{self.settings.port}"

    @property
    def public(self) -> str | None:
        url = self.settings.sharecheck_public_url
        return str(url).rstrip("/") if url is not None else None


def slack(s: Serving) -> Surface:
    settings = s.settings
    if not settings.slack_enabled:
        switches = " or ".join(known_settings("slack_bot_token", "slack_client_id"))
        return Surface("Slack", False, f"{switches} not set")
    ways = []
    if s.mounted(SLACK_EVENTS):
        where = f"{s.public}{SLACK_EVENTS}" if s.public else f"{s.base}{SLACK_EVENTS}"
        ways.append(f"requests at {where}, signatures checked")
    if settings.slack_app_token is not None:
        ways.append(f"Socket Mode ({env_name('slack_app_token')}), no public URL needed")
    return Surface("Slack", True, "; ".join(ways) or "no way in: set SLACK_SIGNING_SECRET or SLACK_APP_TOKEN")


def teams(s: Serving) -> Surface:
    settings = s.settings
    if not s.mounted(TEAMS_MESSAGES):
        # no anonymous door: Teams is on with Bot Framework credentials, or the local emulator asked for by name
        [app_id] = known_settings("microsoft_app_id")
        emulator = known_settings("sharecheck_teams_emulator")
        local = f" (or {emulator[0]}=true to try it on this machine)" if emulator else ""
        return Surface("Teams", False, f"{app_id} not set{local}")
    endpoint = f"{s.base}{TEAMS_MESSAGES}"
    if settings.teams_emulator_mode:
        return Surface("Teams", True, f"emulator mode on loopback, no token checks: {endpoint}")
    public = f" (Azure Bot messaging endpoint {s.public}{TEAMS_MESSAGES})" if s.public else ""
    return Surface("Teams", True, f"app id {settings.microsoft_app_id}, tokens checked: {endpoint}{public}")


def receipts(s: Serving) -> Surface:
    if not s.mounted(RECEIPTS):
        return Surface("Receipt links", False, f"{env_name('sharecheck_public_url')} not set")
    days = s.settings.sharecheck_receipt_ttl.days
    return Surface("Receipt links", True, f"{s.public}/r/... on shares with another agency, answerable {days} days")


def database(s: Serving) -> Surface:
    url = make_url(s.settings.database_url)
    if url.get_backend_name() == "sqlite":
        where = "in memory" if url.database in (None, "", ":memory:") else str(Path(url.database or "").resolve())
        return Surface("Database", None, f"SQLite, {where} (one instance)")
    # no user, password or query (which can carry a password either)
    shown = URL.create(url.drivername, host=url.host, port=url.port, database=url.database).render_as_string()
    return Surface("Database", None, f"PostgreSQL, {shown}")


def scheduler(s: Serving) -> Surface:
    if not s.scheduler:
        return Surface("Scheduler", False, "--no-scheduler: run `sharecheck scheduler` beside it")
    every = s.settings.sharecheck_scheduler_interval.total_seconds()
    return Surface("Scheduler", True, f"in this process, every {every:g} s (follow-ups, nudges, digests)")


def health(s: Serving) -> Surface:
    return Surface("Health", None, f"{s.base}/healthz, /readyz, /metrics")


SURFACES: tuple[Callable[[Serving], Surface], ...] = (slack, teams, receipts, database, scheduler, health)


def how_to_try(s: Serving) -> list[str]:
    ways = ["make chat (or .venv/bin/sharecheck chat) in another terminal, on the same database"]
    if s.settings.slack_enabled:
        ways.append("in Slack: /share-check in any channel")
    if s.mounted(TEAMS_MESSAGES):
        if s.settings.teams_emulator_mode:
            ways.append(f"a local Teams client (Microsoft 365 Agents Playground): point it at {s.base}{TEAMS_MESSAGES}")
        else:
            ways.append("in Teams: message the bot share-check")
    elif s.settings.microsoft_app_id is None:
        ways.append(
            "Teams on this machine: SHARECHECK_TEAMS_EMULATOR=true make run, then the Microsoft 365 Agents Playground"
        )
    return ways


def startup_summary(settings: Settings, app: web.Application, scheduler_on: bool) -> str:
    serving = Serving(settings, app, scheduler_on)
    host = settings.host
    wildcard = host in ("0.0.0.0", "::")  # noqa: S104  (only compared, to say so)
    where = f"every interface, port {settings.port} (here: {serving.base})" if wildcard else serving.base
    lines = [f"ShareCheck listening on {where}"]
    lines += [surface(serving).line() for surface in SURFACES]
    lines.append("Try a check:")
    lines += [f"  {way}" for way in how_to_try(serving)]
    return "\n".join(lines)
