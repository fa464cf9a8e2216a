"""Incidents, role assignments, the append-only timeline and delivery keys.

Written out by hand rather than from bot.store.models, so this revision keeps meaning the same schema when
the models change later. Constraint names follow bot.store.models.NAMING_CONVENTION.

The timeline is the audit trail: triggers refuse UPDATE and DELETE (and TRUNCATE on Postgres). An
operator who must purge data (e.g. a legal request) disables the trigger for that one transaction.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = "timeline_events is append-only"

_SQLITE_GUARD = [
    f"CREATE TRIGGER timeline_events_no_{verb.lower()} BEFORE {verb} ON timeline_events "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
    for verb in ("UPDATE", "DELETE")
]

# restrict_violation (SQLSTATE 23001) surfaces as an IntegrityError, as SQLite's RAISE(ABORT) does.
_POSTGRES_GUARD = [
    f"""CREATE OR REPLACE FUNCTION timeline_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY} (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END;
    $$""",
    """CREATE TRIGGER timeline_events_no_update BEFORE UPDATE OR DELETE ON timeline_events
    FOR EACH ROW EXECUTE FUNCTION timeline_events_append_only()""",
    """CREATE TRIGGER timeline_events_no_truncate BEFORE TRUNCATE ON timeline_events
    FOR EACH STATEMENT EXECUTE FUNCTION timeline_events_append_only()""",
]


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _postgres() -> bool:
    # get_context() rather than get_bind(): it also answers in offline (--sql) mode.
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("declare_key", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(40), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("service", sa.String(100), nullable=True),
        sa.Column("private", sa.Boolean, nullable=False),
        sa.Column("reporter", sa.String(40), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("channel_id", sa.String(40), nullable=True),
        sa.Column("channel_name", sa.String(80), nullable=True),
        sa.Column("summary_ts", sa.String(40), nullable=True),
        sa.Column("announcement_channel", sa.String(40), nullable=True),
        sa.Column("announcement_ts", sa.String(40), nullable=True),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("source_permalink", sa.String(500), nullable=True),
        sa.Column("last_update_at", _utc(), nullable=True),
        sa.Column("next_update_due", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("declare_key", name="uq_incidents_declare_key"),
        sa.UniqueConstraint("channel_id", name="uq_incidents_channel_id"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])

    op.create_table(
        "role_assignments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("role", sa.String(60), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("assigned_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_role_assignments"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_role_assignments_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("incident_id", "role", name="uq_role_assignments_incident_id_role"),
    )
    op.create_index("ix_role_assignments_incident_id", "role_assignments", ["incident_id"])

    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(40), nullable=True),
        sa.Column("occurred_at", _utc(), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timeline_events"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_timeline_events_incident_id_incidents"
        ),
    )
    op.create_index("ix_timeline_events_incident_id", "timeline_events", ["incident_id"])
    op.create_index("ix_timeline_events_occurred_at", "timeline_events", ["occurred_at"])

    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_deliveries"),
    )

    for statement in _POSTGRES_GUARD if _postgres() else _SQLITE_GUARD:
        op.execute(statement)


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS timeline_events_no_truncate ON timeline_events")
        op.execute("DROP TRIGGER IF EXISTS timeline_events_no_update ON timeline_events")
        op.execute("DROP FUNCTION IF EXISTS timeline_events_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS timeline_events_no_delete")
        op.execute("DROP TRIGGER IF EXISTS timeline_events_no_update")
    op.drop_table("deliveries")
    op.drop_table("timeline_events")
    op.drop_table("role_assignments")
    op.drop_table("incidents")
