"""Timeline notes: `/incident note <text>` and a :pushpin: reaction on any message in the channel."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import EventKind
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand

PIN_REACTIONS = {"pushpin", "round_pushpin"}


@subcommand("note", "note <text>", "Add a note to the timeline", needs_incident=True)
async def note_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    assert inv.incident
    await deps.incidents.add_note(inv.incident.id, inv.args, inv.user_id)
    await ack(text=f":memo: Added to the {inv.incident.reference} timeline.")


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("reaction_added")
    async def reaction(event: dict[str, Any], body: dict[str, Any]) -> None:
        item = event.get("item", {})
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        channel, ts = item.get("channel", ""), item.get("ts", "")
        incident = await deps.incidents.in_channel(channel)
        if incident is None or not await deps.incidents.claim(f"pin:{channel}:{ts}"):
            return
        message = await deps.slack.message(channel, ts) or {}
        permalink = await deps.slack.permalink(channel, ts)
        await deps.incidents.add_note(
            incident.id,
            message.get("text") or "(message without text)",
            event.get("user", ""),
            permalink=permalink,
            kind=EventKind.MESSAGE_PINNED,
            author=message.get("user"),
        )
