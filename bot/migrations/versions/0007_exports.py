"""Action items remember the GitHub or Jira issue they were exported to; post-mortems the display names
of the people they mention, so `incidentbot postmortem show` can name them without Slack.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_items") as table:
        table.add_column(sa.Column("external_url", sa.String(500), nullable=True))
    with op.batch_alter_table("postmortems") as table:
        table.add_column(sa.Column("names", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("postmortems") as table:
        table.drop_column("names")
    with op.batch_alter_table("action_items") as table:
        table.drop_column("external_url")
