"""Runbooks posted in incident channels and the state of each of their steps.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runbook_runs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("runbook", sa.String(100), nullable=False),
        sa.Column("started_by", sa.String(40), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runbook_runs"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_runbook_runs_incident_id_incidents",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_runbook_runs_incident_id", "runbook_runs", ["incident_id"])
    op.create_table(
        "runbook_steps",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("step_id", sa.String(80), nullable=False),
        sa.Column("section", sa.String(40), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(40), nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runbook_steps"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runbook_runs.id"], name="fk_runbook_steps_run_id_runbook_runs", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("run_id", "step_id", name="uq_runbook_steps_run_id_step_id"),
    )
    op.create_index("ix_runbook_steps_run_id", "runbook_steps", ["run_id"])


def downgrade() -> None:
    op.drop_table("runbook_steps")
    op.drop_table("runbook_runs")
