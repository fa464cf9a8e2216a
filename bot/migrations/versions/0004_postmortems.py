"""Post-mortems (their written parts) and action items.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _incident(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["incident_id"], ["incidents.id"], name=f"fk_{table}_incident_id_incidents", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("narrative", sa.JSON, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=True),
        sa.Column("reviewed_at", _utc(), nullable=True),
        sa.Column("published_at", _utc(), nullable=True),
        sa.Column("path", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_postmortems"),
        sa.UniqueConstraint("incident_id", name="uq_postmortems_incident_id"),
        _incident("postmortems"),
    )
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner", sa.String(40), nullable=True),
        sa.Column("due", sa.Date, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("done_at", _utc(), nullable=True),
        sa.Column("done_by", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_action_items"),
        _incident("action_items"),
    )
    op.create_index("ix_action_items_incident_id", "action_items", ["incident_id"])
    op.create_index("ix_action_items_status", "action_items", ["status"])


def downgrade() -> None:
    op.drop_table("action_items")
    op.drop_table("postmortems")
