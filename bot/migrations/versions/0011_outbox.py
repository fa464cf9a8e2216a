"""The e-mail outbox of the communication plan (issue 17): one row per mail to an audience.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_mails",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "incident_id",
            sa.Integer,
            sa.ForeignKey("incidents.id", name="fk_outbox_mails_incident_id_incidents"),
            nullable=False,
        ),
        sa.Column("audience", sa.String(40), nullable=False),
        sa.Column("notice", sa.String(20), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(250), nullable=False),
        sa.Column("in_reply_to", sa.String(250)),
        sa.Column("references", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("refused", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_mails"),
        sa.UniqueConstraint("message_id", name="uq_outbox_mails_message_id"),
    )
    op.create_index("ix_outbox_mails_status", "outbox_mails", ["status"])
    op.create_index("ix_outbox_mails_incident_id_audience", "outbox_mails", ["incident_id", "audience"])


def downgrade() -> None:
    op.drop_table("outbox_mails")
