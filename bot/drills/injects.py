"""What an inject puts in front of the participants, built from the scenario alone.

An alert inject is an Alertmanager v4 notification (the shape the alert webhook parses), labelled
`drill: "true"`, so it is read, summarised and shown by the same code as a real alert.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from bot.drills.scenario import AlertInject, Inject, Scenario, SLOInject
from bot.formatting import escape_mrkdwn


def alert_notification(
    scenario: Scenario, alert: AlertInject, incident_id: int, at: datetime
) -> dict[str, Any]:
    labels = {
        "alertname": alert.alertname,
        "severity": alert.severity,
        **({"service": scenario.service} if scenario.service else {}),
        **alert.labels,
        "drill": "true",
    }
    fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    annotations = {"summary": alert.summary or f"{alert.alertname} (drill)"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{drill="{incident_id}", alertname="{alert.alertname}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "incidentbot-drill",
        "groupLabels": {"alertname": alert.alertname},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": at.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fingerprint,
            }
        ],
    }


def customer_report(text: str) -> str:
    return f":speech_balloon: *Customer report* (drill inject)\n>{escape_mrkdwn(text)}"


def simulated_page(who: str) -> str:
    return (
        f":pager: Paged {escape_mrkdwn(who)} (simulated: nobody real is paged, and nobody will answer). "
        "The escalation policy goes on as it would."
    )


def slo_figures(figures: list[SLOInject]) -> str:
    """`/incident slo` during a drill: the scenario's numbers only, never mixed with Prometheus's."""
    if not figures:
        return ":test_tube: *DRILL* — no SLO figures injected yet (a drill never asks Prometheus)."
    lines = [":test_tube: *DRILL — scenario figures, not measured by Prometheus*"]
    latest = {f.slo: f for f in figures}
    for slo in latest.values():
        lines.append(
            f"• *{escape_mrkdwn(slo.slo)}*: burning ×{slo.burn_rate:g}, "
            f"{slo.budget_remaining * 100:.0f} % of the error budget left"
        )
    return "\n".join(lines)


def inject_data(number: int, inject: Inject) -> dict[str, Any]:
    data: dict[str, Any] = {"number": number, "kind": inject.kind, "inject": inject.describe()}
    data["at"] = inject.at.total_seconds()
    if inject.slo:
        data["slo"] = inject.slo.model_dump()
    if inject.check:
        data["check"] = inject.check.model_dump()
    return data
