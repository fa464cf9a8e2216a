"""Durable steps: a page remembers which step of which timer sent it, and timers carry a priority
(pages before set-up before reminders).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pages") as batch:
        batch.add_column(sa.Column("step_key", sa.String(120), nullable=True))
        batch.create_unique_constraint("uq_pages_step_key", ["step_key"])
    with op.batch_alter_table("timers") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="50"))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("priority")
    with op.batch_alter_table("pages") as batch:
        batch.drop_constraint("uq_pages_step_key", type_="unique")
        batch.drop_column("step_key")
