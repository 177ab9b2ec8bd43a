"""roles, digest schedules, digests sent, check channel

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 21:51:32.224644
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_schedules",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("updated_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace_id", "lead_id"),
    )
    op.create_table(
        "digests_sent",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("period_end", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("period_start", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace_id", "lead_id", "period_end"),
    )
    op.create_table(
        "roles",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "workspace_id", "user_id", "role"),
    )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_column("channel_id")

    op.drop_table("roles")
    op.drop_table("digests_sent")
    op.drop_table("digest_schedules")
