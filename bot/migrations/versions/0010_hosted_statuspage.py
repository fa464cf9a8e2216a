"""The push to a hosted Atlassian Statuspage: which hosted incident each of ours became, and how far it got.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosted_statuspage_links",
        sa.Column("local_kind", sa.String(20), nullable=False),
        sa.Column("local_id", sa.Integer, nullable=False),
        sa.Column("hosted_id", sa.String(60)),
        sa.Column("pushed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("local_kind", "local_id", name="pk_hosted_statuspage_links"),
    )


def downgrade() -> None:
    op.drop_table("hosted_statuspage_links")
