"""Settings from the environment or a .env file (DESIGN.md section 3)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated
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
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/sharecheck.db"
    host: str = "127.0.0.1"
    port: int = Field(default=3978, ge=1, le=65535)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    """With SLACK_CLIENT_ID: several workspaces install the app through /slack/install (README "Connect to Slack")."""

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
    """Signs the receipt page's form (CSRF) and, through HKDF, encrypts Slack workspaces' bot tokens (OAuth).
    Generated and kept beside a SQLite database when unset; required for PostgreSQL (several instances must
    share it)."""
    sharecheck_escalation_stages: list[EscalationStage] = Field(default_factory=lambda: list(DEFAULT_ESCALATION_STAGES))
    """JSON list of {"name", "what", "working_days", "tell_lead"}: your local escalation policy's stages."""
    sharecheck_escalation_policy_url: AnyHttpUrl | None = None
    sharecheck_local_links: list[LocalLink] = Field(default_factory=list)
    """JSON list of {"title", "url"}: local procedures shown at the start, the urgent step and the summary."""

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
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
        return self.slack_bot_token is not None or self.slack_oauth_enabled

    @property
    def slack_oauth_enabled(self) -> bool:
        """Several workspaces, each with its own bot token from the OAuth install flow."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

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
