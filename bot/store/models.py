"""ORM tables. The timeline is append-only (enforced by a database trigger, see the migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes on both SQLite (which drops tzinfo) and Postgres."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Named constraints, so later migrations can drop or alter them (SQLite batch mode needs the names)."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declare_key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(40), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    service: Mapped[str | None] = mapped_column(String(100))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    summary_ts: Mapped[str | None] = mapped_column(String(40))
    announcement_channel: Mapped[str | None] = mapped_column(String(40))
    announcement_ts: Mapped[str | None] = mapped_column(String(40))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)
    source_permalink: Mapped[str | None] = mapped_column(String(500))
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_update_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Custom fields set by workflows (`set_field`), read by their conditions."""
    drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    __table_args__ = (
        # Open incidents are a handful among years of resolved ones: a partial index holds only them.
        Index(
            "ix_incidents_open",
            "id",
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_incidents_created_at", "created_at"),
    )


class RoleAssignmentRow(Base):
    """Current holder of each role; the history of hand-overs lives on the timeline."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("incident_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[str] = mapped_column(String(40))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TimelineEventRow(Base):
    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeliveryRow(Base):
    """Keys of Slack deliveries already handled, so retries (and other replicas) do nothing twice."""

    __tablename__ = "deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FirstRow(Base):
    """Who did a one-time action first (the first acknowledgement of an incident): the unique key is what
    decides between two concurrent clicks, and the row is what the slower one is told."""

    __tablename__ = "firsts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class TimerRow(Base):
    """A durable timer (escalation wait, reminder, snooze, queued job): fires once, survives restarts.

    Claimed by one worker at a time with a conditional UPDATE; `lease_until` lets another worker take it
    over if the one that claimed it died while firing it.
    """

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    """Lower first among due timers: pages and escalation, then SEV1 set-up, then SEV2…, then reminders."""
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_timers_status_due_at", "status", "due_at"),)


class EscalationRow(Base):
    """Where an incident's escalation policy stands; one per incident."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    policy: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    step: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acked_by: Mapped[str | None] = mapped_column(String(80))


class PageRow(Base):
    """One page to one person (or one provider incident), so an acknowledgement can find what it answers."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acked_by: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str | None] = mapped_column(String(40))
    ts: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    step_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    """(timer, step, person) of an escalation page: a repeated step finds its page instead of adding one."""


class OncallChangeRow(Base):
    """A swap asked for in Slack or an override a manager set (issue 23): the rota as people changed it.

    A swap is `pending` until the other person answers; an override is `accepted` at once. `pieces` are
    the spans it puts `user` on call, fixed when it takes effect: `[{"schedule", "from", "to"}]`."""

    __tablename__ = "oncall_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(String(200), unique=True)
    """The Slack request that asked for it: a retried slash command adds nothing."""
    kind: Mapped[str] = mapped_column(String(20))
    schedule_id: Mapped[str | None] = mapped_column(String(80))
    user: Mapped[str] = mapped_column(String(40))
    """Who takes the time on."""
    replaces: Mapped[str | None] = mapped_column(String(40))
    """Whose shifts a swap covers (the one who asked)."""
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    pieces: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requested_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_oncall_changes_status_ends_at", "status", "ends_at"),)


class OncallFeedRow(Base):
    """A secret calendar feed URL of a schedule or a person; only the token's SHA-256 is kept."""

    __tablename__ = "oncall_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    """A schedule id or a Slack user id."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertGroupRow(Base):
    """An Alertmanager group (by groupKey) and the incident or channel its notifications went to."""

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    group_key: Mapped[str] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    firing: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Fingerprints of the alerts firing in the group, to tell new alerts from repeats."""
    prev_status: Mapped[str | None] = mapped_column(String(20))
    """`status` before the latest notification: the upsert returns old and new state in one statement."""
    prev_firing: Mapped[list[str] | None] = mapped_column(JSON)
    """`firing` before the latest notification."""
    episode: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped when the group fires again after resolving for longer than the refire window: a new
    episode gets a new incident (declare key `alert:{id}:{episode}`)."""
    notifications: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the group last went from firing to resolved (kept when it fires again)."""


class RunbookRunRow(Base):
    """A runbook posted as a checklist in an incident channel."""

    __tablename__ = "runbook_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    runbook: Mapped[str] = mapped_column(String(100))
    started_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(40))
    messages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Section -> ts of the checklist message showing it, so a step's state edits it in place."""


class RunbookStepRow(Base):
    """One step of a posted runbook: its state is what stops a second run while one is going."""

    __tablename__ = "runbook_steps"
    __table_args__ = (UniqueConstraint("run_id", "step_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runbook_runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(80))
    section: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    runs: Mapped[int] = mapped_column(Integer, default=0)


class PostmortemRow(Base):
    """The written parts of an incident's post-mortem; everything else is compiled from the timeline."""

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    narrative: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Section -> what people wrote (summary, root cause, the five whys, lessons…); kept on recompile."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(40))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    path: Mapped[str | None] = mapped_column(String(500))
    names: Mapped[dict[str, str] | None] = mapped_column(JSON)
    """Slack user id -> display name, as last seen in Slack, so the CLI can name people without Slack."""


class ActionItemRow(Base):
    """A follow-up from an incident, with an owner and a due date, tracked until done."""

    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(40))
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(40))
    external_url: Mapped[str | None] = mapped_column(String(500))
    """The GitHub or Jira issue it was exported to."""


class StatusPageUpdateRow(Base):
    """A public update: asked for (pending), public (published) or refused (rejected). Only published rows
    of incidents that are not private are ever read by the public routes."""

    __tablename__ = "status_page_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    components: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    impact: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(40))
    approver: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10))
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    display_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """The Slack submission (or CLI call) that asked for it: a retried submission adds nothing."""
    request_channel: Mapped[str | None] = mapped_column(String(40))
    request_ts: Mapped[str | None] = mapped_column(String(40))


class StatusPageMaintenanceRow(Base):
    __tablename__ = "status_page_maintenances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    scheduled_until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(10))
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(40))


class StatusPageRevisionRow(Base):
    """One row: bumped in the transaction of every change to what the public sees, so every replica (and
    the CLI) knows its rendered page is stale by reading one integer."""

    __tablename__ = "status_page_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HostedStatuspageLinkRow(Base):
    """Our incident (or maintenance) and the Atlassian Statuspage incident the push made of it. Written
    before the hosted incident is opened (`hosted_id` still empty), so two workers cannot both open it."""

    __tablename__ = "hosted_statuspage_links"

    local_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    local_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hosted_id: Mapped[str | None] = mapped_column(String(60))
    pushed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many of our public updates the hosted incident has, in publication order (a maintenance: 1
    once opened there, 2 once its cancellation is)."""
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class OutboxMailRow(Base):
    """An e-mail to an audience, written with the timeline event that tells the audience and sent by the
    timer worker: pending until the server accepted it (sent) or refused it for good (failed).

    `message_id` is fixed when the row is written, so a resend after a crash is recognisably the same
    mail; `in_reply_to` and `references` thread it under the audience's earlier mails of the incident."""

    __tablename__ = "outbox_mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    audience: Mapped[str] = mapped_column(String(40))
    notice: Mapped[str] = mapped_column(String(20))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(400))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(250))
    references: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    refused: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_outbox_mails_incident_id_audience", "incident_id", "audience"),)


class SubscriberRow(Base):
    """An e-mail subscriber of the public status page. `pending` until the address's owner follows the
    confirmation link (double opt-in), then `confirmed`; `unsubscribed` keeps the row (and its id, which
    old unsubscribe links name) but sends nothing. The choice of components waits in `requested_*` until
    it is confirmed, so nobody can change another person's subscription without their inbox."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    all_components: Mapped[bool] = mapped_column(Boolean, default=True)
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    requested_all: Mapped[bool] = mapped_column(Boolean, default=True)
    requested_components: Mapped[list[str]] = mapped_column(JSON, default=list)
    confirm_nonce: Mapped[str | None] = mapped_column(String(40))
    """Named by the latest confirmation link; a new request or an unsubscribe makes older links stale."""
    confirm_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SubscriberNoticeRow(Base):
    """One thing subscribers are told (a public update, a maintenance), rendered once for all of them;
    `key` makes a second publication event for the same update add nothing."""

    __tablename__ = "subscriber_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    """The incident whose public update this is (threads a subscriber's mails); None for a maintenance."""
    components: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(400))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(String(40))
    """The random part of its mails' Message-IDs."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SubscriberMailRow(Base):
    """One notice to one subscriber: the unique pair is the idempotency key, so each subscriber gets each
    notice once however often the notice is fanned out."""

    __tablename__ = "subscriber_mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("subscriber_notices.id"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("notice_id", "subscriber_id"),)


class DeployRow(Base):
    """A deploy the bot was told of (webhook, CLI), one row per `key`; later notices of the same deploy
    (a status, a canary stage) update it."""

    __tablename__ = "deploys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    service: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(120))
    previous_version: Mapped[str | None] = mapped_column(String(120))
    commit: Mapped[str | None] = mapped_column(String(64))
    commit_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    canary_percent: Mapped[int | None] = mapped_column(Integer)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    stage_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_deploys_service_deployed_at", "service", "deployed_at"),)
