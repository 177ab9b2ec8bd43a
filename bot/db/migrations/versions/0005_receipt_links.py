"""receipt links; practitioners' display names for receipt pages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receipt_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("check_id", sa.Uuid(), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=True),
        sa.Column("shared_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", bot.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", bot.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(["check_id"], ["checks.id"]),
        sa.ForeignKeyConstraint(["follow_up_id"], ["follow_ups.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("receipt_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipt_links_check_id"), ["check_id"], unique=False)
    with op.batch_alter_table("platform_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_users", schema=None) as batch_op:
        batch_op.drop_column("display_name")
    with op.batch_alter_table("receipt_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_links_check_id"))
    op.drop_table("receipt_links")
