"""A local contract stand-in for Atlassian Statuspage's REST API (v1), for the optional push of our own
status page to a hosted one.

Built from Atlassian's published shapes: `Authorization: OAuth <api key>`; `POST
/v1/pages/{page_id}/incidents` and `PATCH /v1/pages/{page_id}/incidents/{incident_id}` take
`{"incident": {...}}` and answer the incident (`id`, `status`, `impact`, `incident_updates`, `components`);
`PATCH /v1/pages/{page_id}/components/{component_id}` takes `{"component": {"status": ...}}`. A bad key is
401, an unknown page, incident or component 404, a body with an unknown status, impact or component 422
with `{"error": ...}`. `fail_next` queues answers such as a 429 with `Retry-After` or a 503. Every request
is recorded (`calls`), so tests can check exactly what was sent.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.standin.serving import serving

API_KEY = "standin-statuspage-key"
PAGE_ID = "kctbh9vrtdwd"
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "maintenance", "minor", "major", "critical"}
COMPONENT_STATUSES = {
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
}


@dataclass
class StatuspageState:
    components: dict[str, str] = field(
        default_factory=lambda: {"cmp0api00001": "operational", "cmp0pay00001": "operational"}
    )
    """Component id -> status, as the hosted page shows it."""
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    queued: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def fail_next(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.queued.append((status, body or {"error": "injected"}, headers or {}))

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _problem(incident: dict[str, Any], state: StatuspageState, creating: bool) -> str | None:
    """What Atlassian would refuse in this `incident` body, or None."""
    if creating and not str(incident.get("name") or "").strip():
        return "name can't be blank"
    status = incident.get("status")
    if status is not None and status not in INCIDENT_STATUSES | MAINTENANCE_STATUSES:
        return f"status is not included in the list ({status!r})"
    if (
        creating
        and status in MAINTENANCE_STATUSES
        and not (incident.get("scheduled_for") and incident.get("scheduled_until"))
    ):
        return "scheduled_for and scheduled_until are required for scheduled maintenance"
    impact = incident.get("impact_override")
    if impact is not None and impact not in IMPACTS:
        return f"impact_override is not included in the list ({impact!r})"
    components = incident.get("components") or {}
    if not isinstance(components, dict):
        return "components must be a map of component id to status"
    for component, value in components.items():
        if component not in state.components:
            return f"component {component} does not belong to this page"
        if value not in COMPONENT_STATUSES:
            return f"component status is not included in the list ({value!r})"
    for component in incident.get("component_ids") or []:
        if component not in state.components:
            return f"component {component} does not belong to this page"
    return None


def create_statuspage_app(state: StatuspageState) -> web.Application:
    async def received(request: web.Request, wrapper: str) -> tuple[dict[str, Any], web.Response | None]:
        """Record the call, then what every call checks first: an injected answer, the key, the page."""
        body = await request.json() if request.can_read_body else None
        state.calls.append((request.method, request.path, body))
        if state.queued:
            status, answer, headers = state.queued.pop(0)
            return {}, web.json_response(answer, status=status, headers=headers)
        if request.headers.get("Authorization") != f"OAuth {API_KEY}":
            return {}, _error(401, "Could not authenticate")
        if request.match_info["page_id"] != PAGE_ID:
            return {}, _error(404, "The page could not be found")
        if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
            return {}, _error(400, f"{wrapper} is missing")
        return body[wrapper], None

    def apply(incident: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        for name in ("name", "status", "impact_override", "scheduled_for", "scheduled_until", "metadata"):
            if name in fields:
                incident[name] = fields[name]
        incident["impact"] = fields.get("impact_override", incident.get("impact", "none"))
        incident["updated_at"] = now
        for component, value in (fields.get("components") or {}).items():
            state.components[component] = value
        ids = set(fields.get("component_ids") or []) | set(fields.get("components") or {})
        incident["components"] = sorted(set(incident.get("components", [])) | ids)
        if fields.get("body"):
            incident["incident_updates"].insert(
                0,
                {
                    "id": f"upd{next(state._ids):09d}",
                    "status": incident["status"],
                    "body": fields["body"],
                    "created_at": now,
                    "deliver_notifications": fields.get("deliver_notifications", True),
                },
            )
        if incident["status"] in {"resolved", "completed", "postmortem"} and not incident.get("resolved_at"):
            incident["resolved_at"] = now
        return incident

    async def create(request: web.Request) -> web.Response:
        fields, refused = await received(request, "incident")
        if refused:
            return refused
        problem = _problem(fields, state, creating=True)
        if problem:
            return _error(422, problem)
        incident_id = f"inc{next(state._ids):09d}"
        incident = {
            "id": incident_id,
            "page_id": PAGE_ID,
            "status": "investigating",
            "created_at": datetime.now(UTC).isoformat(),
            "resolved_at": None,
            "incident_updates": [],
            "shortlink": f"https://stspg.io/{incident_id}",
        }
        state.incidents[incident_id] = apply(incident, fields)
        return web.json_response(state.incidents[incident_id], status=201)

    async def change(request: web.Request) -> web.Response:
        fields, refused = await received(request, "incident")
        if refused:
            return refused
        incident = state.incidents.get(request.match_info["incident_id"])
        if incident is None:
            return _error(404, "The incident could not be found")
        problem = _problem(fields, state, creating=False)
        if problem:
            return _error(422, problem)
        return web.json_response(apply(incident, fields))

    async def component(request: web.Request) -> web.Response:
        fields, refused = await received(request, "component")
        if refused:
            return refused
        component_id = request.match_info["component_id"]
        if component_id not in state.components:
            return _error(404, "The component could not be found")
        if fields.get("status") not in COMPONENT_STATUSES:
            return _error(422, f"status is not included in the list ({fields.get('status')!r})")
        state.components[component_id] = fields["status"]
        return web.json_response({"id": component_id, "page_id": PAGE_ID, "status": fields["status"]})

    app = web.Application()
    app.router.add_post("/v1/pages/{page_id}/incidents", create)
    app.router.add_patch("/v1/pages/{page_id}/incidents/{incident_id}", change)
    app.router.add_patch("/v1/pages/{page_id}/components/{component_id}", component)
    return app


@asynccontextmanager
async def running_statuspage() -> AsyncIterator[StatuspageState]:
    state = StatuspageState()
    async with serving(create_statuspage_app(state)) as url:
        state.url = url
        yield state
