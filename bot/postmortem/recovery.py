"""The post-mortem's recovery objective: the incident's catalog service, its RTO as recorded at declare
(`service_targets`), met or missed by the time to resolve, and when the breach was told (`rto_breached`).
From the timeline alone, like every other section.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import EventKind, Incident, TimelineEvent
from bot.formatting import human_duration
from bot.formatting.markdown import md_inline
from bot.postmortem.automation import Names


@dataclass(frozen=True)
class RecoveryRow:
    service: str
    targets: str
    """ "tier 1 · RTO 30 min · RPO 15 min · SLA 99.9 %"."""
    verdict: str
    """ "met (resolved in 20 min)", "missed by 31 min (resolved in 1 h 1 min); the breach was told 10:30"."""


def recovery_row(
    events: list[TimelineEvent], incident: Incident, d: Names, now: datetime
) -> RecoveryRow | None:
    targets = next((e for e in events if e.kind == EventKind.SERVICE_TARGETS), None)
    if targets is None:
        return None
    data = targets.data
    breach = next((e for e in events if e.kind == EventKind.RTO_BREACHED), None)
    rto_seconds = data.get("rto_seconds")
    rto = timedelta(seconds=float(rto_seconds)) if isinstance(rto_seconds, int | float) else None
    parts = [f"tier {data['tier']}" if data.get("tier") else "no tier"]
    parts.append(f"RTO {human_duration(rto)}" if rto else "no RTO")
    rpo = data.get("rpo_seconds")
    parts += [f"RPO {human_duration(timedelta(seconds=float(rpo)))}"] if isinstance(rpo, int | float) else []
    parts += [f"SLA {data['sla']:g} %"] if isinstance(data.get("sla"), int | float) else []
    taken = incident.time_to_resolve()
    open_for = now - incident.created_at
    if rto is None:
        verdict = "not set"
    elif taken is None:
        state = "missed" if open_for > rto else "not judged yet"
        verdict = f"{state} (open for {human_duration(open_for)})"
    elif taken <= rto:
        verdict = f"met (resolved in {human_duration(taken)})"
    else:
        verdict = f"missed by {human_duration(taken - rto)} (resolved in {human_duration(taken)})"
    if breach is not None:
        verdict += f"; the breach was told {d.local(breach.occurred_at)}"
    name = md_inline(str(data.get("name") or data.get("service") or "?"))
    return RecoveryRow(name, " · ".join(parts), verdict)
