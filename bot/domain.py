"""The incident as services and message builders see it: plain data, no ORM session, no Slack."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


class EventKind(enum.StrEnum):
    UNKNOWN = "unknown"
    """A kind this version does not know (a newer replica wrote it during a rolling upgrade)."""
    DECLARED = "declared"
    CHANNEL_CREATED = "channel_created"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    ROLE_ASSIGNED = "role_assigned"
    UPDATE_POSTED = "update_posted"
    NOTE_ADDED = "note_added"
    MESSAGE_PINNED = "message_pinned"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    INTEGRATION_FAILED = "integration_failed"
    SLO_SNAPSHOT = "slo_snapshot"
    PAGE_SENT = "page_sent"
    PAGE_FAILED = "page_failed"
    PAGE_ACKED = "page_acked"
    ESCALATED = "escalated"
    ESCALATION_EXHAUSTED = "escalation_exhausted"
    REMINDER_SENT = "reminder_sent"
    REMINDER_SNOOZED = "reminder_snoozed"
    ALERT_RECEIVED = "alert_received"
    ALERT_RESOLVED = "alert_resolved"
    RUNBOOK_POSTED = "runbook_posted"
    RUNBOOK_STEP_RUN = "runbook_step_run"
    RUNBOOK_STEP_MARKED = "runbook_step_marked"
    RUNBOOK_STEP_APPROVAL = "runbook_step_approval"
    ACTION_ITEM_ADDED = "action_item_added"
    ACTION_ITEM_DONE = "action_item_done"
    POSTMORTEM_IN_REVIEW = "postmortem_in_review"
    POSTMORTEM_REVIEWED = "postmortem_reviewed"
    POSTMORTEM_PUBLISHED = "postmortem_published"
    POSTMORTEM_COMMITTED = "postmortem_committed"
    ACTION_ITEM_EXPORTED = "action_item_exported"
    STATUS_PAGE_REQUESTED = "status_page_requested"
    STATUS_PAGE_PUBLISHED = "status_page_published"
    STATUS_PAGE_REJECTED = "status_page_rejected"
    AUDIENCE_TOLD = "audience_told"
    """An audience of the communication plan was told (data.first: its first notice; data.notice: why)."""
    EMAIL_SENT = "email_sent"
    EMAIL_FAILED = "email_failed"
    WELCOME_POSTED = "welcome_posted"
    """The channel's first-five-minutes message (data.ts: where it is; its checklist is ticked there)."""
    CHECKLIST_TICKED = "checklist_ticked"
    """An item of the severity's checklist was done (data.index, data.item)."""
    AUDIENCE_NOT_NEEDED = "audience_not_needed"
    """The owner decided an audience need not be told (data.reason); a later rise of the severity lifts it."""
    CUSTOMER_CALL = "customer_call"
    """An enterprise call's outcome (data.contact, data.outcome: called, no_answer or left_message)."""
    COMMUNICATION_DUE = "communication_due"
    """The owner was reminded of an audience's deadline (data.phase: soon or due)."""
    COMMAND_TRANSFER_REQUESTED = "command_transfer_requested"
    """Someone asked data.to to take command from data.from; the new IC confirms (ROLE_ASSIGNED with
    data.transfer: this event's id) or declines (COMMAND_TRANSFER_DECLINED)."""
    COMMAND_TRANSFER_DECLINED = "command_transfer_declined"
    ARCHIVE_NOTICE_SENT = "archive_notice_sent"
    """The resolved incident's channel will be archived at data.at unless someone keeps it."""
    ARCHIVE_POSTPONED = "archive_postponed"
    """Someone clicked Keep: the archive moved to data.until."""
    CHANNEL_ARCHIVED = "channel_archived"
    WORKFLOW_STEP = "workflow_step"
    """One action of a workflow run (data.workflow, data.run, data.step, data.action, data.ok, data.final:
    no retry follows, data.retry_of: the failure a Retry click repeats)."""
    THRESHOLD_BREACHED = "threshold_breached"
    """A rollback watch's threshold held on the wrong side (data.service, version, expr, above/below, for,
    value): the workflows' `threshold` trigger."""
    OWNER_TEAM_TOLD = "owner_team_told"
    """The owning team of the incident's catalog service was told in its channel (data.service, team,
    channel)."""
    SERVICE_TARGETS = "service_targets"
    """The catalog's targets of the incident's service when it was declared (data.service, name, tier,
    rto_seconds, rpo_seconds, sla): the post-mortem judges the RTO against what was promised then."""
    AT_RISK_ADDED = "at_risk_added"
    """Dependents' status page components added to the public update's draft as affected (data.components)."""
    RTO_BREACHED = "rto_breached"
    """The incident outlasted its catalog service's RTO (data.service, tier, rto_seconds, due)."""
    ROLLBACK = "rollback"
    """A rollback watch's other steps (data.phase: armed, requested, suggested, verified, not_cleared,
    disarmed, stage; data.value where something was measured)."""
    CHANGES_POSTED = "changes_posted"
    """What changed before the incident: the deploys posted at declare (data.deploys: their ids)."""
    CHANGE_SUSPECTED = "change_suspected"
    """A deploy marked as the suspected cause (data.deploy_id, service, version, previous, environment)."""
    DEPLOY_RECORDED = "deploy_recorded"
    """A deploy to the incident's service, or to one it depends on, while it is open: the workflows'
    `deploy.recorded` trigger (data.deploy_id, service, version, environment, status, canary_percent)."""
    DRILL_STARTED = "drill_started"
    """A drill began (data.scenario, participants, injects: how many)."""
    DRILL_INJECT = "drill_inject"
    """An inject of the drill fired (data.inject: what, data.kind, data.number, data.at: its offset)."""
    DRILL_SCORED = "drill_scored"
    """The drill's scorecard (data.scenario, team, score, results: [{what, target, measured, verdict}])."""
    FIELD_SET = "field_set"
    """A custom field of the incident was set (data.field, data.value), by a workflow or a person."""


AUDIENCES = ("channel", "announcements", "management")


CALL_OUTCOMES = {"called": "called", "no_answer": "no answer", "left_message": "left a message"}
"""An enterprise call's outcome → how it reads."""


@dataclass(frozen=True)
class AudienceRecord:
    """One audience of the communication plan as the post-mortem tells it (`bot.communication.plan`
    derives it from the timeline; the post-mortem only formats it)."""

    audience: str
    first_due: datetime | None
    first_told: datetime | None
    missed_first: bool
    """The first notice came after its deadline, or never came and the deadline passed (not waived)."""
    notices: int
    waived: str | None
    """The reason given for "Not needed" (still in force at the end)."""
    waived_by: str | None
    calls: tuple[tuple[str, str], ...]
    """(customer, last call outcome) for call-list audiences."""
    cadence_missed: int
    """Gaps between notices longer than the audience's `every` for the incident's severity."""


"""Status-update audiences; each has its own template `update_<audience>.md.j2`."""


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    severity: str
    status: str
    summary: str
    service: str | None
    private: bool
    reporter: str
    created_at: datetime
    channel_id: str | None = None
    channel_name: str | None = None
    summary_ts: str | None = None
    announcement_channel: str | None = None
    announcement_ts: str | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    source_permalink: str | None = None
    last_update_at: datetime | None = None
    next_update_due: datetime | None = None
    roles: dict[str, str] = field(default_factory=dict)
    """role id -> Slack user id of the current holder."""
    fields: dict[str, str] = field(default_factory=dict)
    """Custom fields (`set_field`), which workflow conditions read."""
    drill: bool = False

    def __post_init__(self) -> None:
        if self.fields is None:  # a row from before custom fields existed
            object.__setattr__(self, "fields", {})

    @property
    def commander(self) -> str | None:
        return self.roles.get("incident_commander")

    @property
    def reference(self) -> str:
        return f"INC-{self.id}"

    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.created_at if self.resolved_at else None

    def roles_of(self, user_id: str) -> list[str]:
        return [role for role, holder in self.roles.items() if holder == user_id]


def event_kind(value: str) -> tuple[EventKind, str | None]:
    """The kind of a stored event, and the stored word when this version does not know it: the record
    lasts for years and is read by versions older and newer than the one that wrote it."""
    try:
        return EventKind(value), None
    except ValueError:
        return EventKind.UNKNOWN, value


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    incident_id: int
    kind: EventKind
    actor: str | None
    occurred_at: datetime
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeclareRequest:
    title: str
    severity: str
    summary: str
    reporter: str
    commander: str | None = None
    service: str | None = None
    private: bool = False
    source_text: str | None = None
    source_permalink: str | None = None
    drill: bool = False
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateDraft:
    status: str
    known: str
    doing: str
    next_update_minutes: int | None
    audiences: tuple[str, ...]


class DomainError(Exception):
    """A rule the user broke; the message is shown to them as is."""


class AlreadyDone(DomainError):
    """Someone else's click or form got there first; the message says who and when, nothing happened."""


class AlreadySo(DomainError):
    """The change asked for is already the state (checked on a read): the service says who made it so."""


def already_done(what: str, actor: str | None, at: datetime | None, zone: Any = None) -> AlreadyDone:
    """ "INC-7 was already resolved by @bob at 10:02." — the answer the slower of two clicks gets."""
    by = f" by <@{actor}>" if actor else ""
    when = ""
    if at is not None:
        local = at.astimezone(zone) if zone is not None else at
        when = f" at <!date^{int(at.timestamp())}^{{time}}|{local:%H:%M}>"  # in each reader's zone
    return AlreadyDone(f"{what}{by}{when}.")


TITLE_MAX = 150
TEXT_MAX = 3000


def visible_text(text: str) -> str:
    """`text` without the characters nobody sees: bidi controls (U+202A–U+202E, U+2066–U+2069, LRM, RLM,
    ALM), which can make a title read backwards in the channel and the post-mortem, and zero-width and
    other format characters (U+200B–U+200D, U+2060, U+FEFF, soft hyphen…), which can make it invisible;
    control characters become spaces."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        kept.append(" " if category == "Cc" else char)
    return "".join(kept)


def validate_title(title: str) -> str:
    title = " ".join(visible_text(title).split())
    if not title:
        raise DomainError("The title is empty: say in a few words what is broken.")
    if len(title) > TITLE_MAX:
        raise DomainError(f"The title has {len(title)} characters; keep it under {TITLE_MAX}.")
    return title


def slugify(text: str, max_len: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "incident"


def channel_name(pattern: str, incident_id: int, title: str, severity: str, created: datetime) -> str:
    """A valid Slack channel name: lowercase, <= 80 chars, letters/digits/-/_ only."""
    raw = pattern.format(
        date=created.strftime("%Y%m%d"), id=incident_id, slug=slugify(title), severity=severity.lower()
    )
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    return name[:80].rstrip("-_")
