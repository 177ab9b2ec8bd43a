"""audit trail hash chains (record and workspace), purge marker

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00.000000

Events recorded before this revision are chained here, in seq order, from the genesis hash: the chain proves
them unchanged from now on (nothing can prove what happened to them before). The sealer seals them later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models
from bot.services.audit_hash import GENESIS, event_hash, has_free_text, new_salt

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("events_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sealed_seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("purged_at", bot.db.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_checks_unsealed",
            ["id"],
            unique=False,
            sqlite_where=sa.text("sealed_seq < events_seq"),
            postgresql_where=sa.text("sealed_seq < events_seq"),
        )
    with op.batch_alter_table("check_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("salt", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _backfill()
    with op.batch_alter_table("check_events", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    op.create_table(
        "audit_heads",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace_id"),
    )
    op.create_table(
        "audit_seals",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("workspace_seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.Column("workspace_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace_id", "workspace_seq"),
        sa.UniqueConstraint("event_id"),
    )


def _backfill() -> None:
    """Chain the events already recorded, record by record (typed columns, so times and JSON read back alike)."""
    conn = op.get_bind()
    checks = sa.table("checks", sa.column("id", sa.Uuid()), sa.column("events_hash", sa.String()))
    events = sa.table(
        "check_events",
        sa.column("id", sa.Integer()),
        sa.column("check_id", sa.Uuid()),
        sa.column("seq", sa.Integer()),
        sa.column("at", bot.db.models.UTCDateTime()),
        sa.column("kind", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("data", bot.db.models.JsonType),
        sa.column("salt", sa.String()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    check_ids = [row[0] for row in conn.execute(sa.select(events.c.check_id).distinct())]
    for check_id in check_ids:
        prev = GENESIS
        rows = conn.execute(
            sa.select(events.c.id, events.c.seq, events.c.at, events.c.kind, events.c.actor, events.c.data)
            .where(events.c.check_id == check_id)
            .order_by(events.c.seq)
        ).all()
        for event_id, seq, at, kind, actor, data in rows:
            salt = new_salt() if has_free_text(data) else None
            digest = event_hash(check_id, seq, at, kind, actor, data or {}, salt, prev)
            conn.execute(events.update().where(events.c.id == event_id).values(salt=salt, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(checks.update().where(checks.c.id == check_id).values(events_hash=prev))


def downgrade() -> None:
    op.drop_table("audit_seals")
    op.drop_table("audit_heads")
    with op.batch_alter_table("check_events", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("salt")
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_index("ix_checks_unsealed", sqlite_where=sa.text("sealed_seq < events_seq"))
        batch_op.drop_column("purged_at")
        batch_op.drop_column("sealed_seq")
        batch_op.drop_column("events_hash")
