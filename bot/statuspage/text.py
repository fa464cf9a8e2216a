"""What the public sees, as plain text (`incidentbot statuspage show`)."""

from __future__ import annotations

from datetime import datetime

from bot.statuspage.state import PageState, label


def page_text(state: PageState) -> str:
    zone = state.zone

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"

    lines = [f"{state.config.title} — {state.description} ({state.indicator})", "", "Components:"]
    for group in state.groups():
        indent = "  "
        if group.name:
            lines.append(f"  {group.name}")
            indent = "    "
        for component in group.components:
            lines.append(f"{indent}{component.name}: {label(state.status_of(component.id))}")
    for title, incidents in (("Active incidents", state.unresolved), ("Past incidents", state.past)):
        lines += ["", f"{title}:" if incidents else f"{title}: none"]
        for incident in incidents:
            lines.append(
                f"  [{incident.id}] {incident.name} — {label(incident.status)}, impact {incident.impact}"
            )
            for update in reversed(incident.updates):
                lines.append(f"    {when(update.display_at)} {label(update.status)}: {update.body}")
    maintenances = state.maintenances_in("in_progress", "scheduled")
    lines += ["", "Scheduled maintenance:" if maintenances else "Scheduled maintenance: none"]
    for m in maintenances:
        window = f"{when(m.scheduled_for)} – {when(m.scheduled_until)}"
        lines.append(f"  [{m.id}] {m.title} — {label(m.status(state.now))}, {window}")
    return "\n".join(lines) + "\n"
