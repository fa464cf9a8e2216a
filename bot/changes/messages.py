"""What change tracking shows in Slack: the what-changed list with its Suspected cause buttons, the
mark, and the rollback offer that follows it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.changes.deploys import Deploy
from bot.formatting import escape_mrkdwn
from bot.messages import Message, button, context, safe_link, section, truncate
from bot.settings import IncidentSettings
from bot.templating import slack_date_time

ACTION_SUSPECT = "change_suspect"
"""A deploy's Suspected cause button; its value is the deploy's id."""
ACTION_ROLL_BACK = "change_roll_back"
"""The rollback offer after a mark; its value is the deploy's id."""


def deploy_line(deploy: Deploy, config: IncidentSettings, suspected: bool = False) -> str:
    version = escape_mrkdwn(deploy.version)
    version = (safe_link(deploy.url, version) if deploy.url and "://" in deploy.url else None) or version
    parts = [f"*{escape_mrkdwn(deploy.service)}* {version}"]
    if deploy.previous_version:
        parts.append(f"(from {escape_mrkdwn(deploy.previous_version)})")
    if deploy.canary_percent is not None and deploy.canary_percent != 100:
        parts.append(f"canary {deploy.canary_percent} %")
    parts.append(f"· {escape_mrkdwn(deploy.environment)} · {deploy.status}")
    parts.append(f"· {slack_date_time(deploy.deployed_at, config)}")
    if deploy.commit:
        parts.append(f"· `{escape_mrkdwn(deploy.commit[:12])}`")
    if suspected:
        parts.append("· :dart: suspected cause")
    return " ".join(parts)


def what_changed(
    deploys: Sequence[Deploy],
    more: int,
    since: datetime,
    services: Sequence[str],
    config: IncidentSettings,
    suspected: frozenset[int] = frozenset(),
) -> Message:
    """Newest first, each with its button (a message holds 50 blocks: the list is capped before)."""
    scope = ", ".join(escape_mrkdwn(s) for s in services) if services else "all services"
    title = f":rocket: *What changed* since {slack_date_time(since, config)} ({scope})"
    if not deploys:
        text = f"{title}\nNo deploy was recorded."
        return Message(text, [section(text)])
    blocks = [section(title)]
    for deploy in deploys:
        line = truncate(deploy_line(deploy, config, deploy.id in suspected), 2900)
        block = section(line)
        if deploy.id not in suspected:
            block["accessory"] = button("Suspected cause", ACTION_SUSPECT, str(deploy.id))
        blocks.append(block)
    if more:
        blocks.append(context(f"{more} more: `/incident changes <hours>` with a shorter window."))
    else:
        blocks.append(context("Mark the deploy you suspect: it is recorded and its rollback offered."))
    return Message(truncate(f"What changed: {len(deploys)} deploys", 2900), blocks)


def suspected(user: str, deploy: Deploy) -> Message:
    text = (
        f":dart: <@{user}> marked *{escape_mrkdwn(deploy.service)} {escape_mrkdwn(deploy.version)}* "
        "as the suspected cause."
    )
    return Message(text, [section(text)])


def rollback_offer(deploy: Deploy, step: str | None) -> Message:
    """The service's rollback (its runbook's step, the previous version filled in), or why there is none."""
    service, previous = escape_mrkdwn(deploy.service), deploy.previous_version
    if step is None:
        text = f":information_source: No rollback is configured for *{service}* (`rollback.services`)" + (
            f"; the version before was {escape_mrkdwn(previous)}." if previous else "."
        )
        return Message(text, [section(text)])
    if previous is None:
        text = f":information_source: No earlier deploy of *{service}* is recorded: use {step} by hand."
        return Message(text, [section(text)])
    text = f":arrows_counterclockwise: Roll *{service}* back to *{escape_mrkdwn(previous)}* with {step}?"
    block = section(text)
    block["accessory"] = button(f"Roll back to {previous}"[:75], ACTION_ROLL_BACK, str(deploy.id), "danger")
    return Message(text, [block, context("The runbook's approval for dangerous steps still applies.")])
