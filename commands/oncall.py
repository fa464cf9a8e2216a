"""`/oncall`: who is on call now and next, `next`, `who <schedule> at <time>`, `swap` and `override`,
and the Accept / Decline buttons of a swap. Parsing and acks only; the rota service decides."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import DomainError
from bot.integrations.slack import mentioned_users
from bot.messages import Message, notice
from bot.oncall.handoff import ACTION_SWAP_ACCEPT, ACTION_SWAP_DECLINE
from bot.oncall.messages import next_shifts, oncall_summary, oncall_usage, who_at
from commands.common import incident_id_of, run_after_ack, send_to_user, show_message
from commands.deps import Deps
from commands.registry import Ack

SUBCOMMANDS = ("next", "who", "swap", "override", "help")


async def _person(deps: Deps, word: str, me: str) -> str | None:
    """`<@U…>` as Slack escapes a mention, `me`, or a plain `@dave` typed without Slack's escaping."""
    if word.lower() == "me":
        return me
    found = mentioned_users(word)
    if found:
        return found[0]
    return await deps.slack.find_user(word) if word.startswith("@") else None


async def _answer(deps: Deps, verb: str, words: list[str], user: str, key: str) -> Message:
    """The work of one subcommand after the ack; a DomainError is the usage problem to show."""
    if verb == "next":
        whose = await _person(deps, words[0], user) if words else None
        if words and whose is None:
            raise DomainError(f"Who is {words[0]!r}? Mention them: `/oncall next @someone`.")
        return next_shifts(await deps.rota.next_shifts(whose), whose)
    if verb == "who":
        return who_at(*await deps.rota.who_at(words))
    other = await _person(deps, words[0], user) if words else None
    if verb == "swap":
        return notice(await deps.rota.ask_swap(key, user, other, words[1:]))
    return notice(await deps.rota.override(key, user, other, words[1:]))


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/oncall")
    async def oncall(ack: Ack, command: dict[str, Any]) -> None:
        words = (command.get("text") or "").split()
        user, channel = command["user_id"], command.get("channel_id")
        verb = words[0].lower() if words else ""
        if verb == "help" or verb not in SUBCOMMANDS:
            try:
                wanted = words[0] if words and verb != "help" else None
                summaries = await deps.rota.who_is_on_call(wanted) if verb != "help" else []
                message = oncall_summary(summaries, deps.config) if verb != "help" else oncall_usage()
            except DomainError as exc:
                message = oncall_usage(str(exc))
            await ack(text=message.text, blocks=message.blocks)
            return
        await ack()
        response_url = command.get("response_url")
        key = f"oncall:{command.get('trigger_id')}"  # Slack's retry of this command carries the same id
        try:
            answer = await _answer(deps, verb, words[1:], user, key)
        except DomainError as exc:
            answer = oncall_usage(str(exc))
        except Exception:
            deps.log.exception("/oncall %s failed for %s", verb, user)
            answer = notice(":x: That failed; nothing changed. Details are in the bot's log.")
        await send_to_user(deps, user, channel, answer, response_url)

    def on_swap_button(action_id: str, accept: bool) -> None:
        @app.action(action_id)
        async def handle(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            user, channel = body["user"]["id"], body.get("channel", {}).get("id")
            if not await deps.incidents.claim(f"action:{user}:{action.get('action_ts')}"):
                return  # Slack's retry of this click
            change_id = incident_id_of(action.get("value")) or 0
            result = await run_after_ack(deps, user, channel, deps.rota.answer_swap(change_id, user, accept))
            if result and channel:
                await show_message(deps, channel, body.get("message", {}).get("ts"), notice(result))

    on_swap_button(ACTION_SWAP_ACCEPT, True)
    on_swap_button(ACTION_SWAP_DECLINE, False)
