"""The bot's own Prometheus metrics, served on `/metrics`.

One registry per running app (not the global one) so several apps in one test process stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class Gauges:
    """State figures counted in the database at scrape time (`bot.server.gauges`)."""

    open_by_severity: dict[str, int]
    postmortems_overdue: int
    action_items_open: int
    action_items_overdue: int
    dora: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Scope ("all" or a service) → DORA's keys over the last 30 days (`bot.changes.dora`)."""


DORA_KEYS = {
    "deployments_per_day": "Successful production deploys per day",
    "lead_time_seconds": "Median lead time for changes (commit to production)",
    "change_failure_ratio": "Production deploys that failed (suspected cause, rolled back) over all",
    "time_to_restore_seconds": "Median declare-to-resolve of change-caused incidents",
}

_RESOLVE_BUCKETS = (300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.incidents_declared = Counter(
            "incidentbot_incidents_declared", "Incidents declared", ["severity"], registry=self.registry
        )
        self.time_to_resolve = Histogram(
            "incidentbot_time_to_resolve_seconds",
            "Declared to resolved",
            ["severity"],
            buckets=_RESOLVE_BUCKETS,
            registry=self.registry,
        )
        self.slack_requests = Counter(
            "incidentbot_slack_requests", "Requests received from Slack", ["kind"], registry=self.registry
        )
        self.ack_seconds = Histogram(
            "incidentbot_slack_ack_seconds",
            "Time to answer a Slack request",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.integration_errors = Counter(
            "incidentbot_integration_errors",
            "Failed calls to integrations",
            ["integration", "step"],
            registry=self.registry,
        )
        self._paging()
        self._alerts()
        self._state()

    def _paging(self) -> None:
        self.time_to_acknowledge = Histogram(
            "incidentbot_time_to_acknowledge_seconds",
            "Declared to first acknowledged page",
            ["severity"],
            buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
            registry=self.registry,
        )
        self.pages = Counter(
            "incidentbot_pages",
            "Pages sent, by provider and outcome",
            ["provider", "outcome"],
            registry=self.registry,
        )

    def acknowledged(self, severity: str, took: timedelta) -> None:
        self.time_to_acknowledge.labels(severity).observe(took.total_seconds())

    def paged(self, provider: str, outcome: str) -> None:
        self.pages.labels(provider, outcome).inc()

    def _alerts(self) -> None:
        self.alert_notifications = Counter(
            "incidentbot_alert_notifications",
            "Alertmanager notifications received, by outcome (opened, alerts_added, refired, resolved, "
            "unchanged, duplicate, no_rule; refused: unauthorized, invalid, too_large, unavailable, error)",
            ["outcome"],
            registry=self.registry,
        )
        self.alert_webhook_seconds = Histogram(
            "incidentbot_alert_webhook_seconds",
            "Time to answer an Alertmanager notification",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

    def alert_notification(self, outcome: str) -> None:
        self.alert_notifications.labels(outcome).inc()

    def _state(self) -> None:
        def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, text, list(labels), registry=self.registry)

        self.incidents_open = gauge("incidentbot_incidents_open", "Incidents not resolved", ("severity",))
        self.postmortems_overdue = gauge(
            "incidentbot_postmortems_overdue", "Resolved incidents whose post-mortem is late to publish"
        )
        self.action_items_open = gauge("incidentbot_action_items_open", "Open action items")
        self.action_items_overdue = gauge("incidentbot_action_items_overdue", "Open action items past due")
        self.dora = {
            key: gauge(f"incidentbot_dora_{key}", f"{text} over the last 30 days", ("service",))
            for key, text in DORA_KEYS.items()
        }

    def set_state(self, gauges: Gauges) -> None:
        for severity, count in gauges.open_by_severity.items():
            self.incidents_open.labels(severity).set(count)
        self.postmortems_overdue.set(gauges.postmortems_overdue)
        self.action_items_open.set(gauges.action_items_open)
        self.action_items_overdue.set(gauges.action_items_overdue)
        for scope, figures in gauges.dora.items():
            for key, value in figures.items():
                if key in self.dora:
                    self.dora[key].labels(scope).set(float("nan") if value is None else value)

    def declared(self, severity: str) -> None:
        self.incidents_declared.labels(severity).inc()

    def resolved(self, severity: str, took: timedelta) -> None:
        self.time_to_resolve.labels(severity).observe(took.total_seconds())

    def integration_error(self, integration: str, step: str) -> None:
        self.integration_errors.labels(integration, step).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
