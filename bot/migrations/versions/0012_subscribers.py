"""E-mail subscribers of the status page (issue 17): subscriptions with double opt-in, the notices they
are sent, and one row per notice and subscriber (the idempotency key of each mail).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("all_components", sa.Boolean, nullable=False),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("requested_all", sa.Boolean, nullable=False),
        sa.Column("requested_components", sa.JSON, nullable=False),
        sa.Column("confirm_nonce", sa.String(40)),
        sa.Column("confirm_sent_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_index("ix_subscribers_confirm_sent_at", "subscribers", ["confirm_sent_at"])
    op.create_table(
        "subscriber_notices",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("tag", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriber_notices"),
        sa.UniqueConstraint("key", name="uq_subscriber_notices_key"),
    )
    op.create_table(
        "subscriber_mails",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "notice_id",
            sa.Integer,
            sa.ForeignKey("subscriber_notices.id", name="fk_subscriber_mails_notice_id_subscriber_notices"),
            nullable=False,
        ),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", name="fk_subscriber_mails_subscriber_id_subscribers"),
            nullable=False,
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_subscriber_mails"),
        sa.UniqueConstraint("notice_id", "subscriber_id", name="uq_subscriber_mails_notice_id_subscriber_id"),
    )
    op.create_index("ix_subscriber_mails_subscriber_id", "subscriber_mails", ["subscriber_id"])


def downgrade() -> None:
    op.drop_table("subscriber_mails")
    op.drop_table("subscriber_notices")
    op.drop_table("subscribers")
