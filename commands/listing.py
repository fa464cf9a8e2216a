"""`/incident list` and `/incident help`."""

from __future__ import annotations

from bot.messages import help_message
from commands.deps import Deps
from commands.registry import Ack, Invocation, subcommand, usage_lines


@subcommand("list", "list", "Show open incidents, and those resolved in the last 24 h")
async def list_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    message = await deps.incidents.listing()
    await ack(text=message.text, blocks=message.blocks)


@subcommand("help", "help", "Show this help")
async def help_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    message = help_message(usage_lines())
    await ack(text=message.text, blocks=message.blocks)
