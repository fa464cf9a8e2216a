"""Incidents, role assignments, the append-only timeline and delivery keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PG_GUARD = (
    """CREATE FUNCTION timeline_events_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'timeline_events is append-only';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER timeline_events_no_update BEFORE UPDATE OR DELETE ON timeline_events
    FOR EACH ROW EXECUTE FUNCTION timeline_events_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("declare_key", sa.String(200), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(40), nullable=False),
        sa.Column("status", sa.String(40), nullable=False, index=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("service", sa.String(100)),
        sa.Column("private", sa.Boolean, nullable=False),
        sa.Column("reporter", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("channel_id", sa.String(40), unique=True),
        sa.Column("channel_name", sa.String(80)),
        sa.Column("summary_ts", sa.String(40)),
        sa.Column("announcement_channel", sa.String(40)),
        sa.Column("announcement_ts", sa.String(40)),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("resolution", sa.Text),
        sa.Column("source_permalink", sa.String(500)),
        sa.Column("last_update_at", UTCDateTime()),
        sa.Column("next_update_due", UTCDateTime()),
    )
    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("role", sa.String(60), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("incident_id", "role"),
    )
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(40)),
        sa.Column("occurred_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_GUARD:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER timeline_events_no_{verb.lower()} BEFORE {verb} ON timeline_events "
                "BEGIN SELECT RAISE(ABORT, 'timeline_events is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS timeline_events_no_update ON timeline_events")
        op.execute("DROP FUNCTION IF EXISTS timeline_events_append_only()")
    op.drop_table("deliveries")
    op.drop_table("timeline_events")
    op.drop_table("role_assignments")
    op.drop_table("incidents")
