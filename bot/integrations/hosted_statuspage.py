"""Atlassian Statuspage's REST API (v1): the optional push of our public updates to a hosted page.

Only the calls the push makes, with Atlassian's published shapes: `POST /pages/{page}/incidents` opens an
incident (`name`, `status`, `body`, `impact_override`, `components` as id -> status, `component_ids`),
`PATCH /pages/{page}/incidents/{id}` adds an update, `Authorization: OAuth <key>`. A refusal becomes a
`PushFailed` that says whether trying again can help: a 429 (with its `Retry-After`), a 5xx or no answer
can; a refused key, an unknown page or component cannot, and waiting would only hide it. Never sleeps:
the durable job that calls this is rescheduled instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.integrations.trackers import Answer, TrackerError, details, retry_after, send_json

VENDOR = "Atlassian Statuspage"
DEFAULT_API_URL = "https://api.statuspage.io/v1"
_HINTS = {
    401: "the API key was refused (INCIDENTBOT_STATUSPAGE_API_KEY)",
    403: "the API key's user may not manage incidents on this page",
    404: "not found: check status_page.atlassian.page_id and the component ids",
    422: "Statuspage refused the update",
}


class PushFailed(Exception):
    def __init__(self, message: str, status: int | None, retry_in: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_in = retry_in
        """Seconds to wait before trying again, or None when trying again cannot help."""


@dataclass(frozen=True)
class HostedUpdate:
    """One update as Statuspage takes it; `components` maps Statuspage component ids to statuses."""

    name: str
    status: str
    body: str
    impact: str
    components: dict[str, str]
    notify: bool = True
    scheduled_for: datetime | None = None
    """With `scheduled_until`: a scheduled maintenance, which Statuspage moves along by itself."""
    scheduled_until: datetime | None = None

    def fields(self, opening: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "status": self.status,
            "body": self.body,
            "impact_override": self.impact,
            "components": self.components,
            "component_ids": sorted(self.components),
            "deliver_notifications": self.notify,
        }
        if self.scheduled_for and self.scheduled_until:
            fields |= {
                "scheduled_for": self.scheduled_for.isoformat(),
                "scheduled_until": self.scheduled_until.isoformat(),
                "scheduled_auto_in_progress": True,
                "scheduled_auto_completed": True,
            }
        return {"name": self.name, **fields} if opening else fields


class HostedStatuspage:
    def __init__(self, api_url: str, api_key: str, page_id: str) -> None:
        self.base = f"{api_url.rstrip('/')}/pages/{page_id}"
        self.headers = {"Authorization": f"OAuth {api_key}", "User-Agent": "incidentbot"}

    async def open_incident(self, update: HostedUpdate) -> str:
        """The new Statuspage incident's id."""
        answer = await self._call("POST", "/incidents", {"incident": update.fields(opening=True)}, "open")
        if not isinstance(answer.body, dict) or not answer.body.get("id"):
            raise PushFailed(f"{VENDOR} opened an incident but did not say its id", answer.status, None)
        return str(answer.body["id"])

    async def update_incident(self, incident_id: str, update: HostedUpdate) -> None:
        await self._call(
            "PATCH", f"/incidents/{incident_id}", {"incident": update.fields(opening=False)}, "update"
        )

    async def _call(self, method: str, path: str, payload: dict[str, Any], doing: str) -> Answer:
        try:
            answer = await send_json(
                VENDOR, method, self.base + path, self.headers, payload, max_retry_after=0
            )
        except TrackerError as exc:
            raise PushFailed(str(exc), None, 60.0) from exc
        if answer.status < 300:
            return answer
        said = "; ".join(part for part in (_HINTS.get(answer.status, ""), details(answer.body)) if part)
        message = (
            f"{VENDOR} refused to {doing} the incident (HTTP {answer.status}{': ' + said if said else ''})"
        )
        if answer.status == 429:
            raise PushFailed(message, 429, retry_after(answer.headers) or 60.0)
        if answer.status >= 500 or answer.status == 408:
            raise PushFailed(message, answer.status, 60.0)
        raise PushFailed(message, answer.status, None)
