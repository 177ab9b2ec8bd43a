"""Settings from the environment or a .env file (DESIGN.md section 3)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, BaseModel, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.working_hours import WorkingHours


def _duration(value: object) -> object:
    # pydantic reads ISO 8601 ('PT4H') and numbers; plain digit strings are seconds too
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]

DATABASE_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}
"""DATABASE_URL schemes accepted, and the async driver each is served with: the plain forms other tools print
(``postgres://`` from Heroku-style platforms, ``postgresql://`` from libpq) work as they are."""


def _database_url(value: object) -> object:
    if not isinstance(value, str):
        return value
    scheme, sep, rest = value.strip().partition("://")
    if not sep:
        raise ValueError("DATABASE_URL is not a URL: use postgresql://user@host/db or sqlite:///path/to/file.db")
    driver = DATABASE_DRIVERS.get(scheme.lower())
    if driver is None:
        # the message names the scheme only: the rest of the URL can hold a password
        raise ValueError(
            f"DATABASE_URL scheme {scheme!r} is not supported: ShareCheck runs on PostgreSQL through asyncpg "
            "(postgresql://user@host/db) or SQLite through aiosqlite (sqlite:///path/to/file.db)"
        )
    return f"{driver}://{rest}"


class LocalLink(BaseModel):
    """A local procedure or contact an organisation adds to the check without code."""

    title: str = Field(min_length=1, max_length=150)
    url: AnyHttpUrl


class EscalationStage(BaseModel):
    """One stage of the local professional-disagreement (escalation) policy."""

    name: str = Field(min_length=1, max_length=80)
    what: str = Field(min_length=1, max_length=300)
    working_days: int = Field(ge=1, le=60)
    tell_lead: bool = False


DEFAULT_ESCALATION_STAGES = [
    EscalationStage(
        name="Stage 1", what="talk it through with the other practitioner and agree what happens next.", working_days=2
    ),
    EscalationStage(
        name="Stage 2", what="your safeguarding lead and theirs discuss it.", working_days=5, tell_lead=True
    ),
    EscalationStage(
        name="Stage 3",
        what="senior managers resolve it, or refer it to the local safeguarding partnership.",
        working_days=10,
        tell_lead=True,
    ),
]


class Settings(BaseSettings):
    # errors never repeat a value: a DATABASE_URL or a token would be printed with them
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", hide_input_in_errors=True
    )

    database_url: Annotated[str, BeforeValidator(_database_url)] = "sqlite+aiosqlite:///./var/sharecheck.db"
    """``postgresql://`` and ``postgres://`` are served with asyncpg, ``sqlite://`` with aiosqlite; other drivers
    are refused at start with the reason."""
    host: str = "127.0.0.1"
    port: int = Field(default=3978, ge=1, le=65535)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = None
    microsoft_app_tenant_id: str | None = None
    microsoft_app_type: str | None = None

    sharecheck_confirm_after: Duration = timedelta(hours=4)
    sharecheck_nudge_every: Duration = timedelta(hours=24)
    sharecheck_escalate_after: Duration = timedelta(hours=72)
    sharecheck_scheduler_interval: Duration = timedelta(seconds=15)
    sharecheck_retention: Duration = timedelta(days=6 * 365)
    """How long free text is kept after a check finishes (``sharecheck purge``); README "Privacy" says why 6 years."""
    sharecheck_content_pack: str = "children-england-2024"
    sharecheck_working_hours: str = "Mon-Fri 08:00-18:00"
    sharecheck_default_tz: str = "Europe/London"
    """Time zone for users whose own zone is not known (Slack users.info tz, Teams localTimezone)."""
    sharecheck_admins: str | None = None
    sharecheck_default_lead: str | None = None
    sharecheck_public_url: AnyHttpUrl | None = None
    sharecheck_receipt_ttl: Duration = timedelta(days=14)
    """How long a receipt link (/r/{token}) stays answerable."""
    sharecheck_organisation_name: str | None = Field(default=None, max_length=120)
    """Shown to recipients on the receipt page as who shared (with the practitioner's chosen display name)."""
    sharecheck_secret_key: SecretStr | None = None
    """Signs the receipt page's form (CSRF). Generated and kept beside a SQLite database when unset; required
    for PostgreSQL (several instances must share it)."""
    sharecheck_escalation_stages: list[EscalationStage] = Field(default_factory=lambda: list(DEFAULT_ESCALATION_STAGES))
    """JSON list of {"name", "what", "working_days", "tell_lead"}: your local escalation policy's stages."""
    sharecheck_escalation_policy_url: AnyHttpUrl | None = None
    sharecheck_local_links: list[LocalLink] = Field(default_factory=list)
    """JSON list of {"title", "url"}: local procedures shown at the start, the urgent step and the summary."""
    sharecheck_log_format: Literal["auto", "json", "text"] = "auto"
    """Logs of ``serve`` and ``scheduler``: ``auto`` is readable text on a terminal and JSON lines otherwise (a log
    collector); ``json`` or ``text`` force one. Other commands write text unless ``json`` is set."""

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "microsoft_app_id",
        "sharecheck_organisation_name",
        "sharecheck_secret_key",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sharecheck_working_hours")
    @classmethod
    def _working_hours_parse(cls, value: str) -> str:
        WorkingHours.parse(value)
        return value

    @field_validator("sharecheck_default_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def working_hours(self) -> WorkingHours:
        return WorkingHours.parse(self.sharecheck_working_hours)

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def teams_emulator_mode(self) -> bool:
        return self.microsoft_app_id is None

    @property
    def loopback_host(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
