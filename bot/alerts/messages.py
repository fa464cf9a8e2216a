"""What the bot says about an alert group: a digest of the notification, and the Slack messages built from it.

The digest is taken when the notification arrives and travels in the queued job (JSON), so the message
shows the group as Alertmanager described it at that moment, even when the job runs later or is retried.
It keeps what a responder needs to act — alert name, summary, how many alerts, the labels that tell them
apart, the link to the expression that fired and the runbook — and drops the rest, so a group of
hundreds of alerts stays one readable message inside Block Kit's limits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.alerts.webhook import Alert, Notification
from bot.formatting import escape_mrkdwn, human_duration
from bot.messages import Message, context, fields_sections, section, truncate

Change = Literal["opened", "alerts_added", "refired", "resolved"]
"""What a notification changed about its group; only these reach Slack."""

MAX_LABELS = 10
"""Common labels shown as fields (one section)."""
MAX_INSTANCES = 10
"""Alerts listed one line each by the labels that tell them apart; beyond that, "+N more"."""
LABEL_VALUE_LIMIT = 200
LABEL_ORDER = ("service", "severity", "namespace", "cluster", "job", "env", "environment", "team")
"""Labels people look for first; the others follow alphabetically."""
HIDDEN_LABELS = frozenset({"alertname"})
"""Already in the headline."""


@dataclass(frozen=True)
class AlertDigest:
    alertname: str
    summary: str
    status: str
    firing: int
    resolved: int
    truncated: int
    """Alerts Alertmanager left out (`max_alerts`); counted in neither `firing` nor `resolved`."""
    new: int
    """Alerts firing now that were not firing in the previous notification of the group."""
    labels: dict[str, str]
    """Labels common to the whole group, minus the alert name."""
    instances: list[str]
    """For up to MAX_INSTANCES firing alerts: the labels that tell them apart (`instance=a:9090`)."""
    generator_url: str | None
    runbook: str | None
    """URL or name, from `runbook_for` (the alert's own annotation wins over the config)."""
    external_url: str | None
    group_key: str
    starts_at: str | None = None
    """Earliest start among the firing alerts (ISO 8601)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertDigest:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def started(self) -> datetime | None:
        return datetime.fromisoformat(self.starts_at) if self.starts_at else None


def _label_order(name: str) -> tuple[int, str]:
    return (LABEL_ORDER.index(name) if name in LABEL_ORDER else len(LABEL_ORDER), name)


def _clip(value: str) -> str:
    return truncate(value, LABEL_VALUE_LIMIT)


def _instance(alert: Alert, common: dict[str, str]) -> str:
    distinct = {k: v for k, v in alert.labels.items() if k not in common and k not in HIDDEN_LABELS}
    if not distinct:
        return alert.fingerprint
    return ", ".join(f"{name}={_clip(distinct[name])}" for name in sorted(distinct, key=_label_order))


def digest(notification: Notification, runbook: str | None, new: int = 0) -> AlertDigest:
    firing = notification.firing
    shown = firing or notification.alerts
    common = dict(notification.common_labels) or dict(notification.group_labels)
    labels = {
        name: _clip(common[name])
        for name in sorted(common, key=_label_order)
        if name not in HIDDEN_LABELS and common[name]
    }
    generator = next((a.generator_url for a in shown if a.generator_url), None)
    starts = [a.starts_at for a in firing]
    return AlertDigest(
        alertname=notification.alertname or "alert",
        summary=truncate(notification.summary, 1000),
        status=notification.status,
        firing=len(firing),
        resolved=len(notification.resolved),
        truncated=notification.truncated_alerts,
        new=new,
        labels=labels,
        instances=[_instance(alert, common) for alert in shown[:MAX_INSTANCES]],
        generator_url=generator,
        runbook=runbook,
        external_url=notification.external_url or None,
        group_key=notification.group_key[:500],
        starts_at=min(starts).isoformat() if starts else None,
    )


# -- mrkdwn pieces ---------------------------------------------------------------------------------------


def link(url: str | None, label: str) -> str | None:
    """`<url|label>` for a well-formed http(s) URL; other text is shown escaped, never as broken mrkdwn."""
    if not url:
        return None
    if url.startswith(("https://", "http://")) and not any(c in url for c in "<>| \n"):
        return f"<{url}|{escape_mrkdwn(label)}>"
    return escape_mrkdwn(url)


def runbook_text(runbook: str | None) -> str | None:
    if not runbook:
        return None
    if runbook.startswith(("https://", "http://")):
        return f":book: {link(runbook, 'Runbook')}"
    return f":book: Runbook: *{escape_mrkdwn(runbook)}*"


def _count(n: int, truncated: int = 0) -> str:
    more = f" (+{truncated} not sent: Alertmanager's max_alerts)" if truncated else ""
    return f"{n} alert{'s' if n != 1 else ''}{more}"


def _headline(alert: AlertDigest, change: Change, resolved_for: timedelta | None) -> str:
    name = f"*{escape_mrkdwn(alert.alertname)}*"
    firing = _count(alert.firing, alert.truncated)
    if change == "opened":
        return f":rotating_light: {name} is firing — {firing}"
    if change == "alerts_added":
        return f":rotating_light: {name}: {alert.new} more firing — {firing} in the group now"
    if change == "refired":
        after = f" {human_duration(resolved_for)} after it resolved" if resolved_for is not None else ""
        return f":repeat: {name} is firing again{after} — {firing}"
    return f":white_check_mark: {name} resolved — every alert of the group has ended"


def _links(alert: AlertDigest) -> str:
    parts = [
        runbook_text(alert.runbook),
        link(alert.generator_url, "Source"),
        link(alert.external_url, "Alertmanager"),
    ]
    return " · ".join(p for p in parts if p)


def alert_message(
    alert: AlertDigest,
    change: Change,
    *,
    resolved_for: timedelta | None = None,
    note: str | None = None,
) -> Message:
    """The post for one change of a group, in an incident channel or an alerts channel."""
    headline = _headline(alert, change, resolved_for)
    blocks = [section(headline)]
    if alert.summary and alert.summary != alert.alertname:
        blocks.append(section(">" + escape_mrkdwn(alert.summary).replace("\n", "\n>")))
    if change != "resolved":
        if alert.labels:
            pairs = [(escape_mrkdwn(k), f"`{escape_mrkdwn(v)}`") for k, v in alert.labels.items()]
            blocks.extend(fields_sections(pairs[:MAX_LABELS]))
        listed = [f"• `{escape_mrkdwn(i)}`" for i in alert.instances]
        more = alert.firing - len(listed)
        if listed and (len(listed) > 1 or more > 0):
            tail = f"\n… and {more} more" if more > 0 else ""
            blocks.append(section("\n".join(listed) + tail))
    links = _links(alert)
    if links:
        blocks.append(section(links))
    footer = [f"Alertmanager group `{escape_mrkdwn(truncate(alert.group_key, 300))}`"]
    if note:
        footer.append(note)
    blocks.append(context(*footer))
    text = headline.replace("*", "")
    if alert.summary and alert.summary != alert.alertname:
        text += f": {escape_mrkdwn(alert.summary)}"
    return Message(truncate(" ".join(text.split()), 3000), blocks)


def declare_summary(alert: AlertDigest) -> str:
    """The incident's summary when an alert declares it: what fired, where, and where to look."""
    lines = [alert.summary or alert.alertname]
    where = ", ".join(f"{k}={v}" for k, v in alert.labels.items())
    lines.append(
        f"Declared by Alertmanager: {alert.alertname} firing ({_count(alert.firing, alert.truncated)})"
        + (f" — {where}" if where else "")
        + "."
    )
    if alert.runbook:
        lines.append(f"Runbook: {alert.runbook}")
    if alert.generator_url:
        lines.append(f"Source: {alert.generator_url}")
    return truncate("\n".join(lines), 3000)


def delivery_failed(alert: AlertDigest, change: Change, error: str) -> str:
    """One line for the timeline and the log when the alert could not be posted."""
    return f"could not post the {change.replace('_', ' ')} alert {alert.alertname} to Slack: {error}"
