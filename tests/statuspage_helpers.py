"""Shared steps of the status page tests: read a public route, post a public update through the form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.domain import EventKind, Incident
from bot.standin import eventually
from bot.standin.state import Message, message_text
from tests.fixtures_bot import BotUnderTest
from tests.test_lifecycle import latest_view

PUBLIC_PATHS = (
    "/status",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
    "/history.atom",
    "/history.rss",
)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    """Case-insensitive, as HTTP headers are."""
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


async def fetch(base_url: str, path: str, **headers: str) -> Answer:
    async with aiohttp.ClientSession() as session, session.get(base_url + path, headers=headers) as response:
        return Answer(response.status, response.headers.copy(), await response.read())


async def everything_public(base_url: str, incident_ids: tuple[int, ...] = ()) -> str:
    """Every public route's body, concatenated (incident pages of `incident_ids` included)."""
    paths = [*PUBLIC_PATHS, *(f"/status/incidents/{i}" for i in incident_ids)]
    return "\n".join([(await fetch(base_url, path)).text for path in paths])


async def open_update_form(bot: BotUnderTest, user: str, incident: Incident) -> str:
    await bot.driver.slash(user, incident.channel_id or "", "update")
    return (await latest_view(bot, user, "post_update")).id


async def preview_public(
    bot: BotUnderTest, user: str, incident: Incident, audiences: list[str] | None = None, **values: Any
) -> str:
    """Fill the update form with the Status page audience and press Preview: the public fields appear."""
    view_id = await open_update_form(bot, user, incident)
    answer = await bot.driver.submit_view(
        user,
        view_id,
        {
            "known": {"value": "Card payments fail for some customers."},
            "audiences": {"value": audiences or ["channel", "status_page"]},
            **values,
        },
    )
    assert answer.json and answer.json["response_action"] == "update", answer.body
    return view_id


async def post_public(
    bot: BotUnderTest, user: str, incident: Incident, public: dict[str, Any] | None = None, **values: Any
) -> str:
    """Preview, fill the public fields (`public`), preview again if changed, then post."""
    view_id = await preview_public(bot, user, incident, **values)
    if public:
        answer = await bot.driver.submit_view(user, view_id, public)
        assert answer.json and answer.json["response_action"] == "update", answer.body
    answer = await bot.driver.submit_view(user, view_id, None)
    assert answer.status == 200 and not answer.json, answer.body
    return view_id


async def events(bot: BotUnderTest, incident: Incident, kind: EventKind) -> list[Any]:
    return [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == kind]


def with_button(bot: BotUnderTest, channel: str, action_id: str) -> Message | None:
    for message in reversed(bot.workspace.messages(channel)):
        for block in message.blocks or []:
            if block.get("type") == "actions" and any(e["action_id"] == action_id for e in block["elements"]):
                return message
    return None


async def approval_request(bot: BotUnderTest, incident: Incident) -> Message:
    return await eventually(lambda: with_button(bot, incident.channel_id or "", "statuspage_approve"))


def posted(bot: BotUnderTest, channel: str | None, text: str) -> list[Message]:
    return [m for m in bot.workspace.messages(channel or "") if text in message_text(m)]


def join(bot: BotUnderTest, incident: Incident, user: str) -> None:
    """`user` joins the incident channel (as responders do), so the bot can answer them there."""
    bot.workspace.channels[incident.channel_id or ""].members.add(user)
