"""Years of history: a partial index of the open incidents, and one on the declaration time for reports.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    open_only = sa.text("resolved_at IS NULL")
    op.create_index(
        "ix_incidents_open", "incidents", ["id"], sqlite_where=open_only, postgresql_where=open_only
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_created_at", table_name="incidents")
    op.drop_index("ix_incidents_open", table_name="incidents")
