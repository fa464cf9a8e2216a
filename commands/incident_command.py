"""`/incident`: split the text into a subcommand and hand it to the module that registered it."""

from __future__ import annotations

import difflib
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.formatting import escape_mrkdwn
from bot.messages import MESSAGE_BLOCKS, Message, help_message, section
from commands.common import tell
from commands.deps import Deps
from commands.registry import SUBCOMMANDS, Ack, Invocation, usage_lines


def unknown(name: str) -> str:
    """The first line a person reads after a typo: what was not understood, and the nearest commands."""
    shown = escape_mrkdwn(name[:40])
    near = difflib.get_close_matches(name.lower(), SUBCOMMANDS, n=2, cutoff=0.6)
    guess = " or ".join(f"`/incident {n}`" for n in near)
    return f":grey_question: Unknown command `{shown}`" + (f" — did you mean {guess}?" if guess else ".")


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/incident")
    async def incident(ack: Ack, command: dict[str, Any]) -> None:
        name, _, args = (command.get("text") or "").strip().partition(" ")
        sub = SUBCOMMANDS.get(name.lower())
        if sub is None:
            message = help_message(usage_lines())
            if name:
                intro = unknown(name)
                blocks = [section(intro), *message.blocks][:MESSAGE_BLOCKS]
                message = Message(f"{intro} {message.text}", blocks)
            await ack(text=message.text, blocks=message.blocks)
            return
        incident = await deps.incidents.in_channel(command["channel_id"]) if sub.needs_incident else None
        if sub.needs_incident and incident is None:
            await ack(
                text=f"`/incident {sub.name}` works in an incident channel, and this is not one. "
                "Run it in the incident's channel, or `/incident list` to find it."
            )
            return
        invocation = Invocation(
            user_id=command["user_id"],
            channel_id=command["channel_id"],
            args=args.strip(),
            trigger_id=command.get("trigger_id", ""),
            response_url=command.get("response_url"),
            incident=incident,
        )
        acked = False

        async def ack_once(*a: Any, **kw: Any) -> None:
            nonlocal acked
            if not acked:
                acked = True
                await ack(*a, **kw)

        try:
            await sub.handler(invocation, deps, ack_once)
        except DomainError as exc:
            if acked:
                await tell(
                    deps,
                    invocation.user_id,
                    invocation.channel_id,
                    f":warning: {exc}",
                    invocation.response_url,
                )
            else:
                await ack_once(text=f":warning: {exc}")
        except Exception as exc:
            deps.log.exception("/incident %s failed", sub.name)
            text = f":x: `/incident {sub.name}` failed ({type(exc).__name__}); details are in the bot's log."
            if acked:
                await tell(deps, invocation.user_id, invocation.channel_id, text, invocation.response_url)
            else:
                await ack_once(text=text)
        finally:
            await ack_once()
