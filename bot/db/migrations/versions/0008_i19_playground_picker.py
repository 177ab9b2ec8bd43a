"""Teams users' Entra (AAD) object id beside their conversation reference, for the people picker

Revision ID: i19_playground_picker
Revises: 0005
Create Date: 2026-12-04 17:00:00.000000

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i19_playground_picker"
down_revision: str | None = "i19_slack_oauth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("platform_users") as batch:
        batch.add_column(sa.Column("aad_object_id", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_platform_users_aad_object_id",
        "platform_users",
        ["platform", "workspace_id", "aad_object_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_platform_users_aad_object_id", table_name="platform_users")
    with op.batch_alter_table("platform_users") as batch:
        batch.drop_column("aad_object_id")
