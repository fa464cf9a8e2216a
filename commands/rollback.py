"""`/incident rollback-watch <service> <version> [previous-version]`: arm a deploy's rollback watch.

Usable in any channel; typed in an incident channel it attaches that incident, so a breach joins it rather
than declaring a new one. Arming is one quick write (a timer), so it is done before the ack.
"""

from __future__ import annotations

from bot.domain import DomainError
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand

USAGE = "rollback-watch <service> <version> [previous-version]"


@subcommand("rollback-watch", USAGE, "Watch a deploy's thresholds and roll it back on a breach")
async def rollback_watch_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    words = inv.args.split()
    if len(words) not in (2, 3):
        raise DomainError(
            f"Usage: `/incident {USAGE}` (for example `/incident rollback-watch checkout v42 41`)."
        )
    service, version, previous = words[0], words[1], words[2] if len(words) == 3 else None
    incident = inv.incident or await deps.incidents.in_channel(inv.channel_id)
    incident_id = incident.id if incident else None
    text = await deps.rollbacks.arm(service, version, previous, inv.user_id, incident_id)
    await ack(text=text)
