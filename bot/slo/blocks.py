"""Block Kit for SLO figures: a line of counts, then one section per SLO, the worst first, so what burns is
on the screen even when hundreds of SLOs are configured."""

from __future__ import annotations

from datetime import timedelta

from bot.formatting import format_duration
from bot.messages import Message, context, header, section, truncate
from bot.slo.engine import budget_bar, counts, sparkline, worst_first
from bot.slo.model import BURN_WINDOWS, SLOStatus

MAX_SLOS = 46
"""Header, counts, 46 SLOs and the "…and N more" line: Slack's 50 blocks."""
ALERT_ICONS = {
    "page": ":red_circle: page",
    "ticket": ":large_yellow_circle: ticket",
    "ok": ":large_green_circle: OK",
    "no data": ":white_circle: no data",
}


def _pct(value: float | None, digits: int = 3) -> str:
    return "no data" if value is None else f"{value * 100:.{digits}f} %"


def _burn(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _eta(delta: timedelta | None) -> str:
    if delta is None:
        return "not burning"
    if delta >= timedelta(days=365):
        return "> 1 year"
    return format_duration(timedelta(minutes=max(1, int(delta.total_seconds() // 60))))


def slo_text(status: SLOStatus) -> str:
    slo = status.slo
    period = format_duration(slo.period)
    title = f"*{slo.service} · {slo.name}* — objective {slo.objective * 100:g} % over {period}"
    if status.error:
        return f"{title}\n:warning: {status.error}"
    if not status.has_data:
        return f"{title}\n:white_circle: no data for this SLO (no samples in the period)"
    remaining = status.budget_remaining
    events = status.budget_events_remaining
    events_text = f" ({events:,.0f} bad events left)" if events is not None else ""
    burns = "  ".join(f"{w} {_burn(status.burn_rates.get(w))}" for w in BURN_WINDOWS)
    return "\n".join(
        [
            title,
            f"SLI {_pct(status.sli)} · alert {ALERT_ICONS.get(status.alert, status.alert)}",
            f"Budget `{budget_bar(remaining)}` {_pct(remaining, 1)} left{events_text} · "
            f"exhausted in {_eta(status.time_to_exhaustion)}",
            f"Burn `{burns}`",
            f"Budget over the period `{sparkline(status.budget_history)}`",
        ]
    )


def slo_summary(statuses: list[SLOStatus], title: str = "SLOs", problem: str | None = None) -> Message:
    blocks = [header(title)]
    if problem:
        blocks.append(section(f":warning: {problem}"))
        return Message(text=f"{title}: {problem}", blocks=blocks)
    tally = counts(statuses)
    blocks.append(context(f"{len(statuses)} SLOs: " + " · ".join(f"{n} {what}" for what, n in tally.items())))
    ordered = worst_first(statuses)
    for status in ordered[:MAX_SLOS]:
        blocks.append(section(truncate(slo_text(status), 3000)))
    if len(ordered) > MAX_SLOS:
        blocks.append(
            context(f"…and {len(ordered) - MAX_SLOS} more, healthier: run `incidentbot slo report` for all.")
        )
    paging = sum(s.alert == "page" for s in statuses)
    text = f"{title}: {len(statuses)} SLOs" + (f", {paging} burning at page level" if paging else "")
    return Message(text=text, blocks=blocks)
