"""Small helpers every handler uses: replying to a user and running work after the ack."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.domain import DomainError
from bot.integrations.slack import SlackFailure
from bot.messages import Message
from commands.deps import Deps


async def send_to_user(
    deps: Deps, user: str, channel: str | None, message: Message, response_url: str | None = None
) -> None:
    """An ephemeral reply to one user: through the response_url when we have one, else chat.postEphemeral."""
    try:
        if response_url:
            await AsyncWebhookClient(response_url).send(
                text=message.text, blocks=message.blocks, response_type="ephemeral"
            )
        elif channel:
            await deps.slack.ephemeral(channel, user, message)
    except (SlackFailure, OSError) as exc:
        deps.log.error("could not reply to %s in %s: %s (%s)", user, channel, message.text, exc)


async def tell(
    deps: Deps, user: str, channel: str | None, text: str, response_url: str | None = None
) -> None:
    block = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    await send_to_user(deps, user, channel, Message(text=text, blocks=[block]), response_url)


async def run_after_ack(
    deps: Deps, user: str, channel: str | None, work: Awaitable[Any], response_url: str | None = None
) -> Any:
    """Run a use case once Slack has its ack; rule violations and crashes reach the user, not a void."""
    try:
        return await work
    except DomainError as exc:
        await tell(deps, user, channel, f":warning: {exc}", response_url)
    except Exception as exc:
        deps.log.exception("handler failed for user %s in %s", user, channel)
        await tell(
            deps,
            user,
            channel,
            f":x: That failed ({type(exc).__name__}); nothing else was lost. Details are in the bot's log.",
            response_url,
        )
    return None


def view_key(view: dict[str, Any]) -> str:
    """Slack retries a submission with the same view id and hash; a new submission changes the hash."""
    return f"view:{view.get('id')}:{view.get('hash')}"


def incident_id_of(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def ack_errors(ack: Any, errors: dict[str, str]) -> None:
    """Show problems next to the fields in the still-open modal; nothing typed is lost."""
    await ack(response_action="errors", errors={block: text[:300] for block, text in errors.items()})


async def show_view(deps: Deps, view_id: str, view: dict[str, Any]) -> None:
    """Replace a modal the user may have closed meanwhile; failing here must not fail the work."""
    try:
        await deps.slack.update_view(view_id, view)
    except SlackFailure as exc:
        deps.log.info("could not update view %s: %s", view_id, exc)


async def show_message(deps: Deps, channel: str, ts: str | None, message: Message) -> None:
    """Replace the message a button was on (its buttons are spent), or post anew when it is gone."""
    try:
        if ts:
            await deps.slack.update(channel, ts, message)
        else:
            await deps.slack.post(channel, message)
    except SlackFailure as exc:
        deps.log.warning("could not show %r in %s: %s", message.text, channel, exc)
