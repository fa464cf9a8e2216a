"""The public status page: public updates (with their approval), scheduled maintenance, a change counter.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def UTCDateTime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "status_page_updates",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incidents.id", name="fk_status_page_updates_incident_id_incidents"),
            nullable=False,
        ),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("impact", sa.String(20), nullable=False),
        sa.Column("author", sa.String(40), nullable=False),
        sa.Column("approver", sa.String(40)),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("edited", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("display_at", UTCDateTime()),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("request_key", sa.String(200)),
        sa.Column("request_channel", sa.String(40)),
        sa.Column("request_ts", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name="pk_status_page_updates"),
        sa.UniqueConstraint("request_key", name="uq_status_page_updates_request_key"),
    )
    for column in ("incident_id", "state", "display_at"):
        op.create_index(f"ix_status_page_updates_{column}", "status_page_updates", [column])
    op.create_table(
        "status_page_maintenances",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("scheduled_for", UTCDateTime(), nullable=False),
        sa.Column("scheduled_until", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("request_key", sa.String(200)),
        sa.Column("cancelled_at", UTCDateTime()),
        sa.Column("cancelled_by", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name="pk_status_page_maintenances"),
        sa.UniqueConstraint("request_key", name="uq_status_page_maintenances_request_key"),
    )
    op.create_index(
        "ix_status_page_maintenances_scheduled_until", "status_page_maintenances", ["scheduled_until"]
    )
    revision_table = op.create_table(
        "status_page_revision",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_status_page_revision"),
    )
    op.bulk_insert(revision_table, [{"id": 1, "revision": 0, "changed_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("status_page_revision")
    op.drop_index("ix_status_page_maintenances_scheduled_until", table_name="status_page_maintenances")
    op.drop_table("status_page_maintenances")
    for column in ("display_at", "state", "incident_id"):
        op.drop_index(f"ix_status_page_updates_{column}", table_name="status_page_updates")
    op.drop_table("status_page_updates")
