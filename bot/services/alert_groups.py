"""An Alertmanager group's row and the jobs it queues: the state after the upsert, what changed,
the upsert statement itself, and the `alert_group` job payload.

The database half of receiving a notification, apart from `AlertService` so the rules that decide
whether a notification changes anything (and must agree with the upsert) sit next to that statement.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Column, Insert, Table, and_, bindparam, case, null, or_
from sqlalchemy.sql.elements import BindParameter

from bot.alerts.messages import AlertDigest, Change
from bot.store.db import dialect_insert
from bot.store.models import AlertGroupRow

JOB = "alert_group"
FIRING, RESOLVED = "firing", "resolved"


def key_hash(group_key: str) -> str:
    """groupKey can be long (every group label, escaped); its digest is a fixed-size unique key."""
    return hashlib.sha256(group_key.encode()).hexdigest()


@dataclass(frozen=True)
class GroupState:
    """A group's row right after the upsert: new values, plus `prev_*` from before it."""

    id: int
    episode: int
    status: str
    prev_status: str | None
    """None when this notification created the row."""
    firing: list[str]
    prev_firing: list[str] | None
    notifications: int
    resolved_at: datetime | None
    incident_id: int | None

    def new_fingerprints(self) -> list[str]:
        return sorted(set(self.firing) - set(self.prev_firing or []))


def detect(state: GroupState, cutoff: datetime) -> Change | None:
    """What the notification changed; None for a repeat. Must agree with the upsert's episode rule."""
    if state.prev_status is None:
        return "opened" if state.status == FIRING else RESOLVED
    if state.prev_status == RESOLVED and state.status == FIRING:
        # resolved_at is only written on firing → resolved, so this is the resolution being undone.
        new_episode = state.resolved_at is None or state.resolved_at < cutoff
        return "opened" if new_episode else "refired"
    if state.prev_status == FIRING and state.status == RESOLVED:
        return RESOLVED
    if state.status == FIRING and state.new_fingerprints():
        return "alerts_added"
    return None


def job_key(state: GroupState, change: Change) -> str:
    """One job per change: a duplicate of the same change (a retry, a replayed notification) adds none."""
    base = f"alert:{state.id}:{state.episode}:{change}"
    if change == "opened":
        return base
    if change in ("refired", RESOLVED):
        assert state.resolved_at is not None
        return f"{base}:{state.resolved_at.isoformat()}"
    fingerprints = hashlib.sha256(",".join(state.new_fingerprints()).encode()).hexdigest()[:16]
    return f"{base}:{fingerprints}"


@cache
def upsert_statement(dialect: str) -> Insert:
    """The group upsert, built once per dialect (its parameters are bound per call): building it per
    notification costs more CPU than running it.

    Postgres and SQLite both evaluate every SET expression against the row as it was, so `prev_*` get
    the old values and RETURNING hands back old and new state from one statement.
    """
    insert = dialect_insert(dialect)
    row = cast(Table, AlertGroupRow.__table__).c

    def param(name: str, column: Column[Any]) -> BindParameter[Any]:
        return bindparam(name, type_=column.type)

    now = param("now", row.last_seen)
    statement = insert(AlertGroupRow.__table__).values(
        key_hash=param("key_hash", row.key_hash),
        group_key=param("group_key", row.group_key),
        incident_id=null(),
        action=param("action", row.action),
        status=param("status", row.status),
        firing=param("firing", row.firing),
        prev_status=null(),
        prev_firing=null(),
        episode=1,
        notifications=1,
        first_seen=now,
        last_seen=now,
        resolved_at=param("resolved_at", row.resolved_at),
    )
    new = statement.excluded
    # A group firing again after resolving longer than the refire window ago starts a new episode:
    # detach it from its incident so the job declares (or attaches to) a new one.
    new_episode = and_(
        row.status == RESOLVED,
        new.status == FIRING,
        or_(row.resolved_at.is_(None), row.resolved_at < param("cutoff", row.resolved_at)),
    )
    return statement.on_conflict_do_update(
        index_elements=[row.key_hash],
        set_={
            "group_key": new.group_key,
            "action": new.action,
            "prev_status": row.status,
            "prev_firing": row.firing,
            "status": new.status,
            "firing": new.firing,
            "notifications": row.notifications + 1,
            "last_seen": new.last_seen,
            "resolved_at": case(
                (and_(row.status == FIRING, new.status == RESOLVED), new.last_seen),
                else_=row.resolved_at,
            ),
            "episode": case((new_episode, row.episode + 1), else_=row.episode),
            "incident_id": case((new_episode, null()), else_=row.incident_id),
        },
    ).returning(
        row.id,
        row.episode,
        row.status,
        row.prev_status,
        row.firing,
        row.prev_firing,
        row.notifications,
        row.resolved_at,
        row.incident_id,
    )


def declare_key(group_id: int, episode: int) -> str:
    return f"alert:{group_id}:{episode}"


@dataclass(frozen=True)
class Job:
    """The payload of an `alert_group` timer: which group and change, the route and the alert digest."""

    group_id: int
    episode: int
    change: Change
    action: str
    rule_index: int
    severity: str | None
    service: str | None
    title: str
    channel: str | None
    alert: AlertDigest
    resolved_for_s: float | None = None
    """For `refired`: how long the group had been resolved."""

    def to_json(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "episode": self.episode,
            "change": self.change,
            "route": {
                "action": self.action,
                "rule_index": self.rule_index,
                "severity": self.severity,
                "service": self.service,
                "title": self.title,
                "channel": self.channel,
            },
            "alert": self.alert.to_json(),
            "resolved_for_s": self.resolved_for_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        rule = data["route"]
        return cls(
            group_id=int(data["group_id"]),
            episode=int(data["episode"]),
            change=cast(Change, data["change"]),
            action=rule["action"],
            rule_index=int(rule["rule_index"]),
            severity=rule.get("severity"),
            service=rule.get("service"),
            title=rule["title"],
            channel=rule.get("channel"),
            alert=AlertDigest.from_json(data["alert"]),
            resolved_for_s=data.get("resolved_for_s"),
        )
