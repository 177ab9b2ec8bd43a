"""Database tables (SQLAlchemy 2). Records are append-only: a check's events are never updated or deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so it is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Check(Base):
    """One share-check: its live dialog state while active, its decision record once finished."""

    __tablename__ = "checks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    platform: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(200))
    channel_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """Where the check was started (Slack channel, Teams team), for leads whose scope is a channel."""
    status: Mapped[str] = mapped_column(String(16))
    pack_id: Mapped[str] = mapped_column(String(64))
    pack_version: Mapped[str] = mapped_column(String(16))
    state: Mapped[dict[str, Any]] = mapped_column(JsonType)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    events_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many events the trail has: bumped atomically to number the next one, which also locks the row."""
    events_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Hash of the last event of the trail (None before the first), so deleting the last event shows too."""
    sealed_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many of its events are sealed into the workspace chain; the sealer looks for sealed_seq < events_seq."""
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When free text was removed after the retention period (``sharecheck purge``)."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    case_reference: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    """The decision record, written once when the check completes (dialogs.record.RecordSnapshot)."""

    __table_args__ = (
        Index("ix_checks_actor_status", "platform", "workspace_id", "user_id", "status"),
        Index("ix_checks_workspace_finished", "platform", "workspace_id", "finished_at"),
        # the sealer's work list stays small and indexed however long the history grows
        Index(
            "ix_checks_unsealed",
            "id",
            sqlite_where=text("sealed_seq < events_seq"),
            postgresql_where=text("sealed_seq < events_seq"),
        ),
        # one active check per practitioner: a second /share-check resumes the first
        Index(
            "uq_checks_one_active",
            "platform",
            "workspace_id",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )


class CheckEvent(Base):
    """The append-only trail of a check: started, answered, back, urgent, completed, cancelled, follow-ups..."""

    __tablename__ = "check_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    check_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("checks.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(250))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    salt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Random salt of the free-text commitments (bot.services.audit); removed with the text on purge."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 over the event and prev_hash: the record's chain (bot.services.audit.event_hash)."""

    __table_args__ = (UniqueConstraint("check_id", "seq", name="uq_check_events_seq"),)


class AuditHead(Base):
    """The end of one workspace's running chain: the sealer locks this row, so instances take turns."""

    __tablename__ = "audit_heads"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    """How many events are sealed in this workspace."""
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditSeal(Base):
    """One event sealed into its workspace's chain. Kept apart from the event (and without a foreign key) so a
    deleted event or a deleted record still leaves its seal behind, naming what went missing."""

    __tablename__ = "audit_seals"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), unique=True)
    check_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    event_hash: Mapped[str] = mapped_column(String(64))
    workspace_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 over the previous workspace_hash and this seal (bot.services.audit.seal_hash)."""
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformUser(Base):
    """What we know of a chat user: time zone for working hours, and (Teams) how to reach them proactively."""

    __tablename__ = "platform_users"
    __table_args__ = (Index("ix_platform_users_aad_object_id", "platform", "workspace_id", "aad_object_id"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tz: Mapped[str | None] = mapped_column(String(64), nullable=True)
    conversation_ref: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Teams: the user's Entra (AAD) object id, what the people picker returns; matched to reach them here."""
    display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """How the practitioner chose to be named to recipients on receipt pages (unset: only the organisation)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessedRequest(Base):
    """Keys of platform deliveries already handled, so a retry or replay is not acted on twice."""

    __tablename__ = "processed_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FollowUp(Base):
    """A 'received and understood' loop for one completed check: when to act next, and where it stands."""

    __tablename__ = "follow_ups"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    check_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("checks.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    """A ``bot.followups.models.Kind``: recipient_confirm (recipient in the workspace), sender_confirm, ..."""
    sender_id: Mapped[str] = mapped_column(String(200))
    target_id: Mapped[str] = mapped_column(String(200))
    """Who is asked: the recipient for recipient_confirm, the lead for advice, otherwise the sender."""
    case_reference: Mapped[str | None] = mapped_column(String(40), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    """What the messages need: method, recipient description, when it was shared."""
    state: Mapped[str] = mapped_column(String(24))
    """A ``bot.followups.models.State``; moved only through the transition table (bot.followups.flows)."""
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When the scheduler acts next (send, nudge or escalate); None once nothing more is scheduled."""
    escalate_at: Mapped[datetime] = mapped_column(UTCDateTime)
    nudges: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_follow_ups_due", "due_at"),
        Index("ix_follow_ups_target", "platform", "workspace_id", "target_id", "state"),
        Index("ix_follow_ups_sender", "platform", "workspace_id", "sender_id", "state"),
    )


class OutboxMessage(Base):
    """A message to deliver to a chat user, sent at least once by the scheduler, never silently dropped."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    platform: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(32))
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("follow_ups.id"), nullable=True, index=True)
    message: Mapped[dict[str, Any]] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(16))
    """queued, sent, failed (permanently: the sender is told)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivery_ref: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)


class LeadAssignment(Base):
    """Who is the safeguarding lead for whom: a whole workspace, a channel, or one practitioner."""

    __tablename__ = "lead_assignments"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))
    """workspace, channel or user."""
    scope_value: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("platform", "workspace_id", "lead_id", "scope", "scope_value", name="uq_lead_assignment"),
        Index("ix_lead_assignments_scope", "platform", "workspace_id", "scope", "scope_value"),
    )


class Role(Base):
    """Administrators (who may change roles) per workspace; SHARECHECK_ADMINS are administrators too."""

    __tablename__ = "roles"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoleEvent(Base):
    """The append-only trail of role and lead changes (bot.services.role_trail): never updated or deleted.

    Each event carries the hash of the one before it (one chain for the whole table, numbered by ``seq``, whose
    uniqueness makes two writers take turns), so an edited, deleted or reordered event shows.
    """

    __tablename__ = "role_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    platform: Mapped[str] = mapped_column(String(16))
    workspace_id: Mapped[str] = mapped_column(String(64))
    """The workspace, or "*" for an unscoped settings entry."""
    kind: Mapped[str] = mapped_column(String(32))
    """admin_granted, admin_removed, lead_assigned, lead_removed, default_lead_applied, default_lead_withdrawn,
    bootstrap_admin_applied, bootstrap_admin_withdrawn."""
    subject: Mapped[str] = mapped_column(String(200))
    """Whose role changed (a user id)."""
    scope: Mapped[str] = mapped_column(String(16), default="")
    scope_value: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(250))
    """Who made the change: platform:workspace:user in chat, cli:LOGIN on the command line, settings at start-up."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_role_events_place", "platform", "workspace_id"),)


class DigestSchedule(Base):
    """When a lead wants their digest: daily or weekly, at an hour, in their time zone."""

    __tablename__ = "digest_schedules"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    cadence: Mapped[str] = mapped_column(String(8))
    weekday: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    tz: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestSent(Base):
    """One row per lead per period: the unique key makes a digest go out once even from several instances."""

    __tablename__ = "digests_sent"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    lead_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiptLink(Base):
    """A link a recipient outside the workspace opens to say the shared information arrived (/r/{token}).

    Only the SHA-256 of the token is kept: a copy of this table cannot be turned back into working links.
    """

    __tablename__ = "receipt_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    check_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("checks.id"), index=True)
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("follow_ups.id"), nullable=True)
    shared_by: Mapped[str] = mapped_column(String(250))
    """Who shared, as shown to the recipient: the display name and organisation chosen at share time."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answer: Mapped[str | None] = mapped_column(String(24), nullable=True)
    """The choice only; the recipient's typed name and organisation go to the check's trail."""


class SlackInstallation(Base):
    """One Slack workspace (or Enterprise Grid organisation) that installed the app through the OAuth flow.

    Only the latest install per workspace is kept; an uninstall deletes the row. The tokens are stored sealed
    (bot.secretbox, keyed from SHARECHECK_SECRET_KEY and bound to the row's workspace); every other column is
    what Slack's own installation record holds, unencrypted so it can be looked up.
    """

    __tablename__ = "slack_installations"
    __table_args__ = (UniqueConstraint("client_id", "enterprise_id", "team_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enterprise_id: Mapped[str] = mapped_column(String(32))
    """Empty when not on Enterprise Grid: a unique key over NULLs would not stop duplicates."""
    team_id: Mapped[str] = mapped_column(String(32))
    """Empty for an organisation-wide install."""
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean)
    bot_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    bot_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    bot_scopes: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    bot_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    bot_refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    bot_token_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_id: Mapped[str] = mapped_column(String(32))
    """Who installed it (their own token only if user scopes were asked for, which ShareCheck does not)."""
    user_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_token_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_scopes: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    token_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlackOAuthState(Base):
    """An OAuth ``state`` handed out by the install page, consumed once by the redirect (CSRF for the flow)."""

    __tablename__ = "slack_oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
