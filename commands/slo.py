"""`/incident slo [service]`: error budget and burn rates, answered after Prometheus replies."""

from __future__ import annotations

from bot.slo.blocks import slo_summary
from commands.common import send_to_user
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand


@subcommand("slo", "slo [service]", "Error budget, burn rates and alert state from Prometheus")
async def slo_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    service = inv.args or None
    if service is None:
        incident = await deps.incidents.in_channel(inv.channel_id)
        if incident is not None and incident.drill:  # the scenario's figures, never Prometheus's
            await ack()
            await send_to_user(
                deps, inv.user_id, inv.channel_id, await deps.drills.slo_figures(incident), inv.response_url
            )
            return
        service = incident.service if incident else None
    await ack(text=f":hourglass_flowing_sand: Querying Prometheus for {service or 'all services'}…")
    report = await deps.slo.report(service)
    title = f"SLOs of {service}" if service else "SLOs"
    await send_to_user(
        deps,
        inv.user_id,
        inv.channel_id,
        slo_summary(report.statuses, title, report.problem),
        inv.response_url,
    )
