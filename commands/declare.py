"""Declaring: `/incident declare [title]`, the "Declare incident" message shortcut, and the modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import TITLE_MAX, DeclareRequest, DomainError
from bot.messages import channel_created_link
from bot.services.incidents import Outcome
from commands import modals
from commands.common import ack_errors, show_view, tell
from commands.deps import Deps
from commands.forms import Form
from commands.registry import Ack, Invocation, subcommand


@subcommand("declare", "declare [title]", "Declare an incident (opens a form)")
async def declare_command(inv: Invocation, deps: Deps, ack: Ack) -> None:
    await ack()
    title, summary = inv.args, ""
    if len(title) > TITLE_MAX:
        title, summary = title[:TITLE_MAX].rsplit(" ", 1)[0], title
        await tell(
            deps,
            inv.user_id,
            inv.channel_id,
            f"The title has {len(inv.args)} characters (max {TITLE_MAX}); it is shortened in the form and "
            "the full text is kept as the summary.",
            inv.response_url,
        )
    meta = {"response_url": inv.response_url, "channel": inv.channel_id}
    await deps.slack.open_view(
        inv.trigger_id, modals.declare_view(deps.config, inv.user_id, title, summary, meta)
    )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.shortcut("declare_incident_from_message")
    async def from_message(ack: Ack, shortcut: dict[str, Any]) -> None:
        await ack()
        message, channel = shortcut.get("message", {}), shortcut.get("channel", {}).get("id")
        text = str(message.get("text") or "")
        permalink = None
        if channel and message.get("ts"):
            try:
                permalink = await deps.slack.permalink(channel, message["ts"])
            except Exception as exc:
                deps.log.warning("no permalink for %s/%s: %s", channel, message.get("ts"), exc)
        first_line = text.strip().splitlines()[0] if text.strip() else ""
        meta = {"response_url": shortcut.get("response_url"), "channel": channel, "permalink": permalink}
        view = modals.declare_view(deps.config, shortcut["user"]["id"], first_line[:TITLE_MAX], text, meta)
        await deps.slack.open_view(shortcut["trigger_id"], view)

    @app.view(modals.DECLARE)
    async def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form, meta, user = Form(view), modals.metadata(view), body["user"]["id"]
        request = DeclareRequest(
            title=form.text("title"),
            severity=form.choice("severity") or "",
            summary=form.text("summary"),
            reporter=user,
            commander=form.user("commander"),
            service=form.choice("service"),
            private="private" in form.choices("private"),
            source_permalink=meta.get("permalink"),
        )
        try:
            request = deps.incidents.validate_declare(request)
        except DomainError as exc:
            field = "severity" if "severity" in str(exc) else "summary" if "summary" in str(exc) else "title"
            await ack_errors(ack, {field: str(exc)})
            return
        await ack(
            response_action="update",
            view=modals.progress_view(
                "Declaring…", f":hourglass_flowing_sand: Creating the incident channel for *{request.title}*…"
            ),
        )

        async def show_result(outcome: Outcome) -> None:
            text = channel_created_link(outcome.incident)
            if outcome.problems:
                text += "\n\n:warning: " + "\n:warning: ".join(outcome.problems)
            await show_view(deps, view["id"], modals.progress_view("Incident declared", text))
            if meta.get("response_url"):
                await tell(deps, user, None, text, meta["response_url"])
            await deps.welcome.source_notice(outcome.incident, meta.get("channel"), user)

        try:
            await deps.incidents.declare(request, key=f"declare:{view['id']}", on_ready=show_result)
        except Exception:
            deps.log.exception("declare failed for %s", request.title)
            await show_view(
                deps,
                view["id"],
                modals.progress_view(
                    "Declare failed",
                    ":x: The incident could not be recorded (see the bot's log). Nothing was created; "
                    "try again, or declare by hand.",
                ),
            )
            return
