"""The pinned summary's "Engaged" line: who was paged and when, who acknowledged, what escalates next —
what an Incident Commander asks first in a channel full of people."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.formatting import escape_mrkdwn
from bot.oncall.store import ACTIVE, EXHAUSTED, SENDING, Escalation, Page
from bot.settings import IncidentSettings
from bot.templating import slack_time

ENGAGED_PAGES = 6
"""Pages named (the latest; older ones are counted)."""


def engaged_line(
    escalation: Escalation | None,
    pages: Sequence[Page],
    next_step: datetime | None,
    config: IncidentSettings,
) -> str | None:
    sent = [p for p in pages if p.status != SENDING]
    parts = []
    for page in sent[-ENGAGED_PAGES:]:
        who = f"<@{page.target}>" if page.provider == "slack" else escape_mrkdwn(page.target)
        if page.acked_at is not None:
            parts.append(f"{who} acknowledged {slack_time(page.acked_at, config)}")
        elif page.error:
            parts.append(f"{who} could not be paged")
        else:
            parts.append(f"{who} paged {slack_time(page.sent_at, config)}")
    if len(sent) > ENGAGED_PAGES:
        parts.insert(0, f"{len(sent) - ENGAGED_PAGES} earlier pages")
    if escalation is not None and escalation.status == ACTIVE and next_step is not None:
        parts.append(
            f"escalating: the {escalation.policy} policy's next step at {slack_time(next_step, config)}"
        )
    elif escalation is not None and escalation.status == EXHAUSTED:
        parts.append(f":warning: the {escalation.policy} policy ran out unacknowledged")
    return ":busts_in_silhouette: *Engaged:* " + " · ".join(parts) if parts else None
