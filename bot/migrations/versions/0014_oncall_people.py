"""On-call that people can live with (issue 23): swaps and overrides made in Slack, and the secret
calendar feeds (only their tokens' hashes).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_changes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("request_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("schedule_id", sa.String(80)),
        sa.Column("user", sa.String(40), nullable=False),
        sa.Column("replaces", sa.String(40)),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("pieces", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.String(40)),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_changes"),
        sa.UniqueConstraint("request_key", name="uq_oncall_changes_request_key"),
    )
    op.create_index("ix_oncall_changes_status_ends_at", "oncall_changes", ["status", "ends_at"])
    op.create_table(
        "oncall_feeds",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_feeds"),
        sa.UniqueConstraint("token_hash", name="uq_oncall_feeds_token_hash"),
    )
    op.create_index("ix_oncall_feeds_subject", "oncall_feeds", ["subject"])


def downgrade() -> None:
    op.drop_table("oncall_feeds")
    op.drop_table("oncall_changes")
