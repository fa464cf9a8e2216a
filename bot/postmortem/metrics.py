"""Detection and response times of one incident, read off its timeline — never estimated.

Shared by the post-mortem and the metrics report so both say the same thing:

- started: when impact began — what a person wrote in the post-mortem (`impact_started_at`), else the
  earliest `startsAt` of an alert recorded on the timeline; unknown otherwise;
- detected: the first alert received, or the declaration, whichever came first;
- acknowledged: the first acknowledged page;
- mitigated: the first change to the mitigation status or a later one before the final one ("mitigated",
  configurable: the impact has stopped), or the resolution when it came without one;
- resolved: the incident's last resolution (a reopened incident is resolved when it is resolved again).

Each "time to X" is measured from the declaration, except time to detect (from the start of impact).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import EventKind, Incident, TimelineEvent

TIME_KINDS = (EventKind.ALERT_RECEIVED, EventKind.PAGE_ACKED, EventKind.STATUS_CHANGED, EventKind.RESOLVED)
"""The only events the response times are read from (reports ask the store for these alone)."""


@dataclass(frozen=True)
class ResponseTimes:
    declared_at: datetime
    started_at: datetime | None
    detected_at: datetime | None
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None

    @staticmethod
    def _since(start: datetime | None, end: datetime | None) -> timedelta | None:
        return end - start if start is not None and end is not None else None

    @property
    def time_to_detect(self) -> timedelta | None:
        return self._since(self.started_at, self.detected_at)

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self._since(self.declared_at, self.acknowledged_at)

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._since(self.declared_at, self.mitigated_at)

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._since(self.declared_at, self.resolved_at)


def _aware(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _first(events: Sequence[TimelineEvent], kind: EventKind, **data: Any) -> TimelineEvent | None:
    return next(
        (e for e in events if e.kind == kind and all(e.data.get(k) == v for k, v in data.items())), None
    )


def response_times(
    incident: Incident,
    events: Sequence[TimelineEvent],
    mitigated_statuses: Sequence[str],
    narrative: dict[str, Any] | None = None,
) -> ResponseTimes:
    """`events` in time order (as the store returns them); `mitigated_statuses` those that count as
    mitigated (`IncidentSettings.mitigated_statuses`)."""
    alerts = [e for e in events if e.kind == EventKind.ALERT_RECEIVED]
    alert_starts = [s for e in alerts if (s := _aware(e.data.get("alert", {}).get("starts_at")))]
    started = _aware((narrative or {}).get("impact_started_at")) or min(alert_starts, default=None)
    detected = min([incident.created_at, *(e.occurred_at for e in alerts)])
    acked = _first(events, EventKind.PAGE_ACKED)
    mitigated = next(
        (e for e in events if e.kind == EventKind.STATUS_CHANGED and e.data.get("to") in mitigated_statuses),
        None,
    )
    resolutions = [e for e in events if e.kind == EventKind.RESOLVED]
    resolved = resolutions[-1] if resolutions and incident.resolved_at else None  # the last, if still so
    return ResponseTimes(
        declared_at=incident.created_at,
        started_at=started,
        detected_at=detected,
        acknowledged_at=acked.occurred_at if acked else None,
        mitigated_at=mitigated.occurred_at if mitigated else (resolved.occurred_at if resolved else None),
        resolved_at=resolved.occurred_at if resolved else None,
    )
