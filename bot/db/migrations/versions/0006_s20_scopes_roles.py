"""role_events: the append-only, hash-chained trail of role and lead changes

Revision ID: s20_scopes_roles
Revises: 0005
Create Date: 2026-12-04 17:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "s20_scopes_roles"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "role_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_value", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=250), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("role_events", schema=None) as batch_op:
        batch_op.create_index("ix_role_events_place", ["platform", "workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("role_events", schema=None) as batch_op:
        batch_op.drop_index("ix_role_events_place")
    op.drop_table("role_events")
