"""Who was first: one row per one-time action (an acknowledgement), written by the click that won.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firsts",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(80), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_firsts"),
    )


def downgrade() -> None:
    op.drop_table("firsts")
