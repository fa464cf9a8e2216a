"""The bot's own Prometheus metrics, served on `/metrics`.

One registry per running app (not the global one) so several apps in one test process stay apart.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

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

    def declared(self, severity: str) -> None:
        self.incidents_declared.labels(severity).inc()

    def resolved(self, severity: str, took: timedelta) -> None:
        self.time_to_resolve.labels(severity).observe(took.total_seconds())

    def integration_error(self, integration: str, step: str) -> None:
        self.integration_errors.labels(integration, step).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
