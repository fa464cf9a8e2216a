"""Atlassian Statuspage v2 JSON (`/api/v2/*.json`): the same field names and enums, so every existing
consumer (dashboards, chat integrations, monitoring tools) reads our page as it reads theirs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.statuspage.model import Maintenance, PublicIncident, worst
from bot.statuspage.settings import Component
from bot.statuspage.state import PageState

MOST = 50
"""Statuspage lists at most 50 incidents or maintenances."""


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def group_id(name: str) -> str:
    return "group-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed")


def page(state: PageState) -> dict[str, Any]:
    return {
        "id": state.page_id,
        "name": state.config.title,
        "url": state.config.url,
        "time_zone": state.config.time_zone,
        "updated_at": iso(state.updated_at),
    }


def status(state: PageState) -> dict[str, str]:
    return {"indicator": state.indicator, "description": state.description}


def component(state: PageState, item: Component, position: int) -> dict[str, Any]:
    changed = iso(state.component_changed_at(item.id))
    return {
        "id": item.id,
        "name": item.name,
        "status": state.status_of(item.id),
        "created_at": changed,
        "updated_at": changed,
        "position": position,
        "description": item.description or None,
        "showcase": item.showcase,
        "start_date": None,
        "group_id": group_id(item.group) if item.group else None,
        "page_id": state.page_id,
        "group": False,
        "only_show_if_degraded": item.only_show_if_degraded,
    }


def components(state: PageState) -> list[dict[str, Any]]:
    """Every component, and each group as a component with `group: true` and its members' ids."""
    found: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for position, item in enumerate(state.config.components, start=1):
        if item.group and item.group not in groups:
            groups[item.group] = {
                "id": group_id(item.group),
                "name": item.group,
                "status": "operational",
                "created_at": iso(state.updated_at),
                "updated_at": iso(state.updated_at),
                "position": position,
                "description": None,
                "showcase": False,
                "start_date": None,
                "group_id": None,
                "page_id": state.page_id,
                "group": True,
                "only_show_if_degraded": False,
                "components": [],
            }
            found.append(groups[item.group])
        shown = component(state, item, position)
        found.append(shown)
        if item.group:
            group = groups[item.group]
            group["components"].append(item.id)
            group["status"] = worst([group["status"], shown["status"]])
    return found


def _affected_components(state: PageState, incident: PublicIncident) -> list[dict[str, Any]]:
    ids = {code for u in incident.updates for code in u.components}
    return [
        component(state, item, position)
        for position, item in enumerate(state.config.components, start=1)
        if item.id in ids
    ]


def incident(state: PageState, item: PublicIncident) -> dict[str, Any]:
    names = state.component_names()
    updates = []
    for index, update in enumerate(item.updates):
        affected = item.affected(index, names)
        updates.append(
            {
                "id": str(update.id),
                "status": update.status,
                "body": update.body,
                "incident_id": str(item.id),
                "created_at": iso(update.display_at),
                "updated_at": iso(update.display_at),
                "display_at": iso(update.display_at),
                "affected_components": [a.__dict__ for a in affected] or None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
        )
    return {
        "id": str(item.id),
        "name": item.name,
        "status": item.status,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "monitoring_at": iso(item.monitoring_at),
        "resolved_at": iso(item.resolved_at),
        "impact": item.impact,
        "shortlink": f"{state.config.url}/status/incidents/{item.id}",
        "started_at": iso(item.created_at),
        "page_id": state.page_id,
        "incident_updates": list(reversed(updates)),
        "components": _affected_components(state, item),
    }


def maintenance(state: PageState, item: Maintenance) -> dict[str, Any]:
    current = item.status(state.now)
    update = {
        "id": f"m{item.id}-1",
        "status": "scheduled",
        "body": item.body or item.title,
        "incident_id": f"m{item.id}",
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
        "display_at": iso(item.created_at),
        "affected_components": [
            {
                "code": c,
                "name": state.component_names().get(c, c),
                "old_status": "operational",
                "new_status": "under_maintenance",
            }
            for c in item.components
        ]
        or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }
    return {
        "id": f"m{item.id}",
        "name": item.title,
        "status": current,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
        "monitoring_at": None,
        "resolved_at": iso(item.scheduled_until) if current == "completed" else None,
        "impact": "maintenance",
        "shortlink": f"{state.config.url}/status#maintenance-{item.id}",
        "started_at": iso(item.scheduled_for),
        "page_id": state.page_id,
        "incident_updates": [update],
        "components": [
            component(state, c, position)
            for position, c in enumerate(state.config.components, start=1)
            if c.id in item.components
        ],
        "scheduled_for": iso(item.scheduled_for),
        "scheduled_until": iso(item.scheduled_until),
    }


def documents(state: PageState) -> dict[str, dict[str, Any]]:
    """Every `/api/v2/…` document by path."""
    head = page(state)
    unresolved = [incident(state, i) for i in state.unresolved]
    upcoming = [maintenance(state, m) for m in state.maintenances_in("scheduled")]
    active = [maintenance(state, m) for m in state.maintenances_in("in_progress", "verifying")]
    every_maintenance = sorted(state.visible_maintenances, key=lambda m: m.scheduled_for, reverse=True)[:MOST]
    return {
        "/api/v2/summary.json": {
            "page": head,
            "components": components(state),
            "incidents": unresolved,
            "scheduled_maintenances": active + upcoming,
            "status": status(state),
        },
        "/api/v2/status.json": {"page": head, "status": status(state)},
        "/api/v2/components.json": {"page": head, "components": components(state)},
        "/api/v2/incidents.json": {
            "page": head,
            "incidents": [incident(state, i) for i in state.incidents[:MOST]],
        },
        "/api/v2/incidents/unresolved.json": {"page": head, "incidents": unresolved},
        "/api/v2/scheduled-maintenances.json": {
            "page": head,
            "scheduled_maintenances": [maintenance(state, m) for m in every_maintenance],
        },
        "/api/v2/scheduled-maintenances/upcoming.json": {"page": head, "scheduled_maintenances": upcoming},
        "/api/v2/scheduled-maintenances/active.json": {"page": head, "scheduled_maintenances": active},
    }
