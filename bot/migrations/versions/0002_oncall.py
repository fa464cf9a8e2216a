"""Durable timers, escalations, pages and Alertmanager groups.

Written by hand like 0001; constraint names follow bot.store.models.NAMING_CONVENTION.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _incident_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["incident_id"], ["incidents.id"], name=f"fk_{table}_incident_id_incidents", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("due_at", _utc(), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", _utc(), nullable=True),
        sa.Column("claimed_by", sa.String(80), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_timers"),
        sa.UniqueConstraint("key", name="uq_timers_key"),
        _incident_fk("timers", "CASCADE"),
    )
    op.create_index("ix_timers_incident_id", "timers", ["incident_id"])
    op.create_index("ix_timers_status_due_at", "timers", ["status", "due_at"])

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("policy", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("round", sa.Integer, nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("acked_at", _utc(), nullable=True),
        sa.Column("acked_by", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
        sa.UniqueConstraint("incident_id", name="uq_escalations_incident_id"),
        _incident_fk("escalations", "CASCADE"),
    )

    op.create_table(
        "pages",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("target", sa.String(80), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sent_at", _utc(), nullable=False),
        sa.Column("acked_at", _utc(), nullable=True),
        sa.Column("acked_by", sa.String(80), nullable=True),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("ts", sa.String(40), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        _incident_fk("pages", "CASCADE"),
    )
    op.create_index("ix_pages_incident_id", "pages", ["incident_id"])

    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("firing", sa.JSON, nullable=False),
        sa.Column("prev_status", sa.String(20), nullable=True),
        sa.Column("prev_firing", sa.JSON, nullable=True),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("notifications", sa.Integer, nullable=False),
        sa.Column("first_seen", _utc(), nullable=False),
        sa.Column("last_seen", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_groups"),
        sa.UniqueConstraint("key_hash", name="uq_alert_groups_key_hash"),
        _incident_fk("alert_groups", "SET NULL"),
    )
    op.create_index("ix_alert_groups_incident_id", "alert_groups", ["incident_id"])


def downgrade() -> None:
    op.drop_table("alert_groups")
    op.drop_table("pages")
    op.drop_table("escalations")
    op.drop_table("timers")
