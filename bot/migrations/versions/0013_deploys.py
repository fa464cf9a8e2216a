"""Change tracking (issue 20): the deploys the bot was told of, deduplicated by a key per source; and the
incident's custom fields and drill flag that workflow conditions read (issue 19).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deploys",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("environment", sa.String(60), nullable=False),
        sa.Column("version", sa.String(120), nullable=False),
        sa.Column("previous_version", sa.String(120)),
        sa.Column("commit", sa.String(64)),
        sa.Column("commit_time", sa.DateTime(timezone=True)),
        sa.Column("url", sa.String(500)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("canary_percent", sa.Integer),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deploys"),
        sa.UniqueConstraint("key", name="uq_deploys_key"),
    )
    op.create_index("ix_deploys_service_deployed_at", "deploys", ["service", "deployed_at"])
    op.create_index("ix_deploys_deployed_at", "deploys", ["deployed_at"])
    op.add_column("incidents", sa.Column("fields", sa.JSON))
    op.add_column("incidents", sa.Column("drill", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("drill")
        batch.drop_column("fields")
    op.drop_index("ix_deploys_deployed_at", "deploys")
    op.drop_index("ix_deploys_service_deployed_at", "deploys")
    op.drop_table("deploys")
