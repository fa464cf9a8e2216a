"""What Slack's own client checks in a modal before it sends a submission, per input block.

A real Slack user cannot submit an empty required field, an over-long text or a number out of range:
the client marks the field and sends nothing. The sandbox page shows the same inline errors, using
the stand-in's own rules (`payloads.state_entry`), so the page, the driver and the tests agree.
"""

from __future__ import annotations

from typing import Any

from bot.standin.payloads import STATEFUL, entry_is_empty, initial_value, state_entry
from bot.standin.state import View, Workspace

REQUIRED = "Please complete this required field."


def client_errors(ws: Workspace, view: View, values: dict[str, Any]) -> dict[str, str]:
    """block_id -> message for every input block Slack's client would refuse to submit.

    `values` is block_id -> action_id -> simple value, as for `SlackDriver.submit_view`; blocks left out
    keep what the user entered before, else their initial value.
    """
    errors: dict[str, str] = {}
    for block in view.view.get("blocks", []):
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        element = block.get("element") or {}
        if element.get("type") not in STATEFUL:
            continue
        block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
        given = values.get(block_id, {})
        if not isinstance(given, dict):
            given = {action_id: given}
        where = f"{block_id}/{action_id}"
        try:
            if action_id in given:
                entry = state_entry(ws, element, given[action_id], where)
            elif action_id in view.state_values.get(block_id, {}):  # what the user entered before
                entry = view.state_values[block_id][action_id]
            else:
                entry = state_entry(ws, element, initial_value(element), where)
        except ValueError as exc:
            errors[block_id] = str(exc).removeprefix(f"{where}: ")
            continue
        if not block.get("optional") and entry_is_empty(entry):
            errors[block_id] = REQUIRED
    return errors
