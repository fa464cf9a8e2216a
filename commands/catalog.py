"""`/incident service <name>`: a service's card from the catalog; and the button that adds a declared
service's dependents to the status page draft."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.catalog.messages import ACTION_ADD_AT_RISK
from bot.messages import notice
from commands.common import run_after_ack, send_to_user, tell
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand


@subcommand("service", "service <name>", "A service's card: owners, on call, tier, RTO, SLOs, runbooks")
async def service_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    catalog = deps.catalog
    name = inv.args.strip()
    if not name and inv.incident is not None:
        name = inv.incident.service or ""
    component = catalog.find(name) if catalog and name else None
    if catalog is None or component is None:
        known = catalog.unknown(name) if catalog else "There is no service catalog (see `catalog_dir`)."
        await ack(text=f":grey_question: {known}")
        return
    await ack(text=f":hourglass_flowing_sand: Gathering the card of {component.title}…")

    async def show() -> None:
        card = await catalog.card(component, await deps.incidents.list_open())
        await send_to_user(deps, inv.user_id, inv.channel_id, card, inv.response_url)

    await run_after_ack(deps, inv.user_id, inv.channel_id, show(), inv.response_url)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_ADD_AT_RISK)
    async def add_at_risk(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")
        incident_text, _, components = str(action.get("value") or "").partition(":")
        if deps.catalog is None or not incident_text.isdigit():
            return
        catalog = deps.catalog

        async def add() -> None:
            added = await catalog.add_at_risk(int(incident_text), components.split(","), user)
            if added and channel:
                text = f":link: <@{user}> added {', '.join(added)} to the status page draft as affected."
                await deps.slack.post_or_log(channel, notice(text), "at-risk components")
            elif not added:
                await tell(deps, user, channel, "Those components are in the draft already.")

        await run_after_ack(deps, user, channel, add(), body.get("response_url"))
