"""The game-day reminder: what is due, and a Start button."""

from __future__ import annotations

from bot.drills.scenario import Scenario
from bot.drills.settings import ScheduledDrill
from bot.formatting import escape_mrkdwn
from bot.messages import Message, button, context, section

ACTION_START = "drill_start"
"""The reminder's Start button; its value is `scenario|U1,U2` (the schedule's participants)."""


def reminder(entry: ScheduledDrill, scenario: Scenario | None) -> Message:
    title = escape_mrkdwn(scenario.title if scenario else entry.scenario)
    text = f":test_tube: Game day: the {entry.every} drill *{title}* (`{entry.scenario}`) is due."
    value = f"{entry.scenario}|{','.join(entry.participants)}"[:2000]
    block = section(text)
    block["accessory"] = button("Start the drill", ACTION_START, value, "primary")
    note = "Whoever starts it takes part, with " + (
        ", ".join(f"<@{p}>" for p in entry.participants) if entry.participants else "nobody else named"
    )
    return Message(text, [block, context(note + ". Not started within the week, it counts as skipped.")])
