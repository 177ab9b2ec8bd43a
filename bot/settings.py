"""Settings from the environment or a .env file (DESIGN.md section 3)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.user_refs import UserRef, one_per_place, parse_user_refs
from bot.working_hours import WorkingHours
from dialogs.profile import DEFAULT_CONTACTS, EmergencyContact, OrganisationKind, OrganisationProfile


def _duration(value: object) -> object:
    # pydantic reads ISO 8601 ('PT4H') and numbers; plain digit strings are seconds too
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _user_refs(value: object) -> object:
    # the contract's form is one comma-separated line (DESIGN.md section 3); a malformed entry stops start-up
    # with its number and what is wrong, rather than being ignored
    if value is None:
        return ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        value = ",".join(value)  # given in code as a list of entries
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        raise ValueError("write the entries separated by commas (slack:U0123ABCD,teams:29:1a2b...), not as a JSON list")
    return parse_user_refs(value)


UserRefs = Annotated[tuple[UserRef, ...], NoDecode, BeforeValidator(_user_refs)]
"""People named per platform, ``slack:U0123,teams:29:1a2b...,console:dsl`` (grammar in bot.user_refs). NoDecode:
the environment's text goes to the parser as it is, never through JSON."""

MIN_SECRET_KEY_BYTES = 32
"""A shorter HMAC key could be guessed, and then any page could post the receipt form."""


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"not an IP address or network: {exc}") from exc


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or an address in 127.0.0.0/8 or ::1 (a name that merely resolves there does not count)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    """With SLACK_CLIENT_ID: several workspaces install the app through /slack/install (docs/slack.md)."""

    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = None
    microsoft_app_tenant_id: str | None = None
    microsoft_app_type: str | None = None
    sharecheck_teams_emulator: bool = False
    """Serve /api/messages without Bot Framework tokens, for a local Teams client (Agents Playground, Bot Framework
    Emulator): loopback only, one fixed tenant, loopback serviceUrl only. Never together with MICROSOFT_APP_ID."""
    sharecheck_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """When set, /metrics is served only on this port (same HOST), not on the public listener."""

    sharecheck_confirm_after: Duration = timedelta(hours=4)
    sharecheck_nudge_every: Duration = timedelta(hours=24)
    sharecheck_escalate_after: Duration = timedelta(hours=72)
    sharecheck_urgent_written_confirmation_hours: int = Field(default=48, ge=1, le=24 * 14)
    """On the urgent path, the practitioner is reminded to confirm a phone referral in writing within this many hours;
    the lead is told if it is not done by then."""
    sharecheck_scheduler_interval: Duration = timedelta(seconds=15)
    sharecheck_retention: Duration = timedelta(days=6 * 365)
    """How long free text is kept after a check finishes (``sharecheck purge``); docs/privacy-and-audit.md says why."""
    sharecheck_content_pack: str = "children-england-2024"
    sharecheck_content_dir: Path | None = None
    """A folder of the organisation's own content packs (``<id>.yaml``, ``archive/<id>@<version>.yaml``),
    searched before the packs that ship with ShareCheck."""
    sharecheck_working_hours: str = "Mon-Fri 08:00-18:00"
    sharecheck_default_tz: str = "Europe/London"
    """Time zone for users whose own zone is not known (Slack users.info tz, Teams localTimezone)."""
    sharecheck_admins: UserRefs = ()
    """Administrators from the start: comma-separated ``platform:user`` or ``platform:workspace:user`` entries,
    any number per platform (docs/operations.md "Leads and administrators" says what an unscoped entry means)."""
    sharecheck_default_lead: UserRefs = ()
    """The lead for practitioners who have none, same form; one entry per platform (or per workspace)."""
    sharecheck_public_url: AnyHttpUrl | None = None
    sharecheck_receipt_ttl: Duration = timedelta(days=14)
    """How long a receipt link (/r/{token}) stays answerable."""
    sharecheck_organisation_name: str | None = Field(default=None, max_length=120)
    """Shown to recipients on the receipt page as who shared (with the practitioner's chosen display name)."""
    sharecheck_secret_key: SecretStr | None = None
    """Signs the receipt page's form (CSRF) and, through HKDF, encrypts Slack workspaces' bot tokens (OAuth); at
    least 32 bytes. Generated into ``<database file>.secret-key`` beside a SQLite database when unset; required for
    PostgreSQL (several instances must share it)."""
    sharecheck_trusted_proxies: str | None = None
    """Reverse proxies (IPs or CIDRs, comma-separated) whose forwarding header names the client for the receipt
    page's rate limit; unset, the TCP peer is the client."""
    sharecheck_forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    """Which header the trusted proxies set: only that one is read (a client can send the other itself)."""
    sharecheck_escalation_stages: list[EscalationStage] = Field(default_factory=lambda: list(DEFAULT_ESCALATION_STAGES))
    """JSON list of {"name", "what", "working_days", "tell_lead"}: your local escalation policy's stages."""
    sharecheck_escalation_policy_url: AnyHttpUrl | None = None
    sharecheck_local_links: list[LocalLink] = Field(default_factory=list)
    """JSON list of {"title", "url"}: local procedures shown at the start, the urgent step and the summary."""
    sharecheck_organisation_kind: OrganisationKind | None = None
    """The organisation profile: its kind sets the lawful basis the check offers first (dialogs.profile)."""
    sharecheck_emergency_contacts: list[EmergencyContact] = Field(default_factory=lambda: list(DEFAULT_CONTACTS))
    """JSON list of {"label", "contact"}: who to call, shown first on the immediate-danger path."""
    sharecheck_log_format: Literal["auto", "json", "text"] = "auto"
    """Logs of ``serve`` and ``scheduler``: ``auto`` is readable text on a terminal and JSON lines otherwise (a log
    collector); ``json`` or ``text`` force one. Other commands write text unless ``json`` is set."""

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
        "microsoft_app_id",
        "sharecheck_organisation_name",
        "sharecheck_secret_key",
        "sharecheck_organisation_kind",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sharecheck_default_lead")
    @classmethod
    def _one_lead_per_place(cls, value: tuple[UserRef, ...]) -> tuple[UserRef, ...]:
        one_per_place(value, "SHARECHECK_DEFAULT_LEAD")
        return value

    @field_validator("sharecheck_metrics_port", mode="before")
    @classmethod
    def _blank_port_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sharecheck_public_url")
    @classmethod
    def _https_unless_loopback(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # receipt links are bearer links: over plain http anyone on the path could read and answer them
        if value is not None and value.scheme != "https" and not is_loopback_host(value.host):
            raise ValueError(
                f"SHARECHECK_PUBLIC_URL must start with https:// (receipt links are bearer links); plain http is "
                f"accepted only for a loopback host (127.0.0.1, ::1, localhost), not {value.host!r}"
            )
        return value

    @model_validator(mode="after")
    def _one_teams_mode(self) -> Settings:
        if self.sharecheck_teams_emulator and self.microsoft_app_id is not None:
            raise ValueError(
                "SHARECHECK_TEAMS_EMULATOR=true and MICROSOFT_APP_ID are both set: emulator mode (no token checks) "
                "is for local trials without credentials; unset one of them"
            )
        if self.sharecheck_metrics_port is not None and self.sharecheck_metrics_port == self.port:
            raise ValueError("SHARECHECK_METRICS_PORT must differ from PORT (it is a separate listener)")
        return self

    @field_validator("sharecheck_secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"SHARECHECK_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes; generate one with "
                "python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return value

    @field_validator("sharecheck_forwarded_header", mode="before")
    @classmethod
    def _header_name(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("sharecheck_trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str | None) -> str | None:
        if value is not None:
            _networks(value)
        return value

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

    @field_validator("sharecheck_emergency_contacts")
    @classmethod
    def _some_contact(cls, value: list[EmergencyContact]) -> list[EmergencyContact]:
        # the immediate-danger path must always say who to call
        return value or list(DEFAULT_CONTACTS)

    @property
    def organisation_profile(self) -> OrganisationProfile:
        return OrganisationProfile(
            kind=self.sharecheck_organisation_kind, contacts=tuple(self.sharecheck_emergency_contacts)
        )

    @property
    def working_hours(self) -> WorkingHours:
        return WorkingHours.parse(self.sharecheck_working_hours)

    @property
    def admin_refs(self) -> tuple[UserRef, ...]:
        return self.sharecheck_admins

    @property
    def default_lead_refs(self) -> tuple[UserRef, ...]:
        return self.sharecheck_default_lead

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _networks(self.sharecheck_trusted_proxies or "")

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None or self.slack_oauth_enabled

    @property
    def slack_oauth_enabled(self) -> bool:
        """Several workspaces, each with its own bot token from the OAuth install flow."""
        return self.slack_client_id is not None and self.slack_client_secret is not None

    @property
    def teams_enabled(self) -> bool:
        """/api/messages is served: with Bot Framework credentials, or in emulator mode when asked for."""
        return self.microsoft_app_id is not None or self.sharecheck_teams_emulator

    @property
    def teams_emulator_mode(self) -> bool:
        """Teams without token checks: only when asked for explicitly, and never with an app id."""
        return self.sharecheck_teams_emulator and self.microsoft_app_id is None

    @property
    def loopback_host(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
