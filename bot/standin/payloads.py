"""Interaction payloads built from what is really on screen in the stand-in workspace.

A test says "alice picks SEV1 in the severity field"; these helpers turn that into the exact state
and action objects Slack would send, taken from the view or message the bot actually produced. A
test that names an input or button the bot never rendered fails here, loudly, instead of sending a
payload no real user could have produced.

The same checks Slack's client makes before submitting (required inputs, length limits, numbers)
raise `ValueError`, because a real user could not get past them either.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator
from typing import Any

from bot.standin.state import View, Workspace, interactive_elements


class _Empty(enum.Enum):
    EMPTY = "empty"


EMPTY = _Empty.EMPTY
"""Pass as a value to clear an input that has an initial value (None does the same)."""

TEXT_INPUTS = frozenset({"plain_text_input", "email_text_input", "url_text_input", "number_input"})
SINGLE_OPTION = frozenset({"static_select", "radio_buttons", "external_select", "overflow"})
MULTI_OPTION = frozenset({"multi_static_select", "checkboxes"})
SINGLE_PICK = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
}
MULTI_PICK = {
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}
_INITIAL_KEY = {
    "users_select": "initial_user",
    "conversations_select": "initial_conversation",
    "channels_select": "initial_channel",
    "multi_users_select": "initial_users",
    "multi_conversations_select": "initial_conversations",
    "multi_channels_select": "initial_channels",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
    "datetimepicker": "initial_date_time",
}
STATEFUL = (
    TEXT_INPUTS | SINGLE_OPTION | MULTI_OPTION | SINGLE_PICK.keys() | MULTI_PICK.keys() | _INITIAL_KEY.keys()
) - {"overflow"}


# -- references Slack puts in every payload ----------------------------------------------------------


def user_ref(ws: Workspace, user_id: str) -> dict[str, Any]:
    user = ws.users.get(user_id)
    if user is None:
        raise ValueError(f"no user {user_id!r} in the stand-in workspace")
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def team_ref(ws: Workspace) -> dict[str, Any]:
    return {"id": ws.team_id, "domain": ws.team_domain}


def channel_ref(ws: Workspace, channel_id: str) -> dict[str, Any]:
    channel = ws.channels.get(channel_id)
    if channel is None:
        raise ValueError(f"no channel {channel_id!r} in the stand-in workspace")
    if channel.is_im:
        return {"id": channel.id, "name": "directmessage"}
    return {"id": channel.id, "name": channel.name if not channel.is_private else "privategroup"}


# -- simple values -> Slack state objects ------------------------------------------------------------


def _options(element: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def find_option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    for option in _options(element):
        if option.get("value") == value:
            return dict(option)
    offered = [o.get("value") for o in _options(element)]
    raise ValueError(f"{value!r} is not an option of {element.get('action_id')!r}; options: {offered}")


def _as_list(value: Any) -> list[Any]:
    if value is None or value is EMPTY:
        return []
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _is_empty(value: Any) -> bool:
    return value is None or value is EMPTY or value == "" or value == [] or value == ()


def _user(ws: Workspace, value: Any) -> str:
    if value not in ws.users:
        raise ValueError(f"{value!r} is not a user of the stand-in workspace")
    return str(value)


def _conversation(ws: Workspace, value: Any) -> str:
    channel = ws.resolve_channel(str(value))
    if channel is None:
        raise ValueError(f"{value!r} is not a channel of the stand-in workspace")
    return channel.id


def _date(value: Any) -> str:
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    dt.date.fromisoformat(text)
    return text


def _time(value: Any) -> str:
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    text = str(value)
    dt.time.fromisoformat(text)
    return text[:5]


def _check_text(element: dict[str, Any], value: str, where: str) -> None:
    """What Slack's client enforces before it lets the user press Submit."""
    kind = element["type"]
    if kind == "number_input":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a number") from None
        if not element.get("is_decimal_allowed") and not number.is_integer():
            raise ValueError(f"{where}: decimals are not allowed")
        for bound, ok in (
            ("min_value", number >= float(element.get("min_value", number))),
            ("max_value", number <= float(element.get("max_value", number))),
        ):
            if not ok:
                raise ValueError(f"{where}: {value} is outside {bound} {element[bound]}")
        return
    max_length = int(element.get("max_length", 3000))
    if len(value) > max_length:
        raise ValueError(f"{where}: {len(value)} characters exceed max_length {max_length}")
    if len(value) < int(element.get("min_length", 0)):
        raise ValueError(f"{where}: shorter than min_length {element['min_length']}")


def state_entry(ws: Workspace, element: dict[str, Any], value: Any, where: str = "input") -> dict[str, Any]:
    """Slack's `state.values` entry for `element` holding the simple Python `value`."""
    kind = element.get("type", "")
    entry: dict[str, Any] = {"type": kind}
    empty = _is_empty(value)
    if kind in TEXT_INPUTS:
        text = None if empty else str(value)
        if text is not None:
            _check_text(element, text, where)
        entry["value"] = text
    elif kind in SINGLE_OPTION:
        entry["selected_option"] = None if empty else find_option(element, value)
    elif kind in MULTI_OPTION:
        entry["selected_options"] = [find_option(element, v) for v in _as_list(value)]
    elif kind == "users_select":
        entry["selected_user"] = None if empty else _user(ws, value)
    elif kind == "multi_users_select":
        entry["selected_users"] = [_user(ws, v) for v in _as_list(value)]
    elif kind in SINGLE_PICK:
        entry[SINGLE_PICK[kind]] = None if empty else _conversation(ws, value)
    elif kind in MULTI_PICK:
        entry[MULTI_PICK[kind]] = [_conversation(ws, v) for v in _as_list(value)]
    elif kind == "datepicker":
        entry["selected_date"] = None if empty else _date(value)
    elif kind == "timepicker":
        entry["selected_time"] = None if empty else _time(value)
    elif kind == "datetimepicker":
        entry["selected_date_time"] = None if empty else int(value)
    else:
        raise ValueError(f"{where}: a {kind!r} element holds no value")
    return entry


def initial_value(element: dict[str, Any]) -> Any:
    """The simple value an element shows before the user touches it."""
    kind = element.get("type", "")
    if kind in TEXT_INPUTS:
        return element.get("initial_value")
    if kind in SINGLE_OPTION:
        return (element.get("initial_option") or {}).get("value")
    if kind in MULTI_OPTION:
        return [o.get("value") for o in element.get("initial_options") or []]
    return element.get(_INITIAL_KEY.get(kind, ""))


def entry_is_empty(entry: dict[str, Any]) -> bool:
    return all(_is_empty(v) for k, v in entry.items() if k != "type")


# -- views ---------------------------------------------------------------------------------------------


def view_state(
    ws: Workspace, view: View, values: dict[str, Any] | None, *, require: bool = True
) -> dict[str, dict[str, Any]]:
    """`state.values` for submitting `view` with `values` (block_id -> action_id -> simple value).

    A block's value may also be given directly (block_id -> value) when the block has one element.
    Elements not mentioned keep what the user entered before, else their initial value, as in Slack.
    `require=False` skips the required-input check, for the state sent along with a click.
    """
    values = dict(values or {})
    blocks = [b for b in view.view.get("blocks", []) if isinstance(b, dict)]
    by_id = {b.get("block_id"): b for b in blocks}
    for block_id in values:
        block = by_id.get(block_id)
        if block is None or not any(e.get("type") in STATEFUL for e in interactive_elements(block)):
            inputs = [b.get("block_id") for b in blocks if b.get("type") == "input"]
            raise ValueError(f"view {view.id} has no input block {block_id!r}; input blocks: {inputs}")
    state: dict[str, dict[str, Any]] = {}
    for block in blocks:
        block_id = block["block_id"]
        for element in interactive_elements(block):
            if element.get("type") not in STATEFUL:
                continue
            action_id = element["action_id"]
            where = f"{block_id}/{action_id}"
            given = values.get(block_id, {})
            if not isinstance(given, dict):
                given = {action_id: given}
            unknown = set(given) - {e.get("action_id") for e in interactive_elements(block)}
            if unknown:
                raise ValueError(f"block {block_id!r} has no element {sorted(unknown)}")
            if action_id in given:
                entry = state_entry(ws, element, given[action_id], where)
            elif action_id in view.state_values.get(block_id, {}):
                entry = view.state_values[block_id][action_id]
            elif block.get("type") == "input" or initial_value(element) not in (None, []):
                entry = state_entry(ws, element, initial_value(element), where)
            else:
                continue
            required = require and block.get("type") == "input" and not block.get("optional")
            if required and entry_is_empty(entry):
                label = (block.get("label") or {}).get("text", block_id)
                raise ValueError(f"Slack would not submit: required input {label!r} ({where}) is empty")
            state.setdefault(block_id, {})[action_id] = entry
    return state


def response_urls(ws: Workspace, view: View, state: dict[str, dict[str, Any]], base_url: str) -> list[Any]:
    """The response_urls Slack adds for conversation inputs marked `response_url_enabled`."""
    urls = []
    for block in view.view.get("blocks", []):
        element = block.get("element") if isinstance(block, dict) and block.get("type") == "input" else None
        if not element or not element.get("response_url_enabled"):
            continue
        entry = state.get(block["block_id"], {}).get(element["action_id"], {})
        channel = entry.get("selected_conversation") or entry.get("selected_channel")
        if channel:
            urls.append(
                {
                    "block_id": block["block_id"],
                    "action_id": element["action_id"],
                    "channel_id": channel,
                    "response_url": ws.new_response_url(channel, view.user, base_url=base_url),
                }
            )
    return urls


# -- clicks --------------------------------------------------------------------------------------------


def find_action(
    blocks: list[Any], action_id: str, *, value: Any = None, block_id: str | None = None, where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (block, element) a user clicks; `value` and `block_id` pick among same-named buttons."""
    matches = [
        (block, element)
        for block in blocks
        if isinstance(block, dict) and block_id in (None, block.get("block_id"))
        for element in interactive_elements(block)
        if element.get("action_id") == action_id
    ]
    if value is not None and len(matches) > 1:
        matches = [(b, e) for b, e in matches if e.get("type") != "button" or e.get("value") == value]
    if not matches:
        present = [e.get("action_id") for b in blocks if isinstance(b, dict) for e in interactive_elements(b)]
        raise ValueError(f"{where} has no action {action_id!r}; actions there: {present}")
    if len(matches) > 1:
        raise ValueError(f"{where} has {len(matches)} actions {action_id!r}; pass value= or block_id=")
    block, element = matches[0]
    if element.get("type") == "button" and value is not None and element.get("value") != value:
        raise ValueError(
            f"button {action_id!r} in {where} carries value {element.get('value')!r}, not {value!r}"
        )
    return block, element


def action_payload(
    ws: Workspace, block: dict[str, Any], element: dict[str, Any], selected: Any, action_ts: str
) -> dict[str, Any]:
    """One entry of `actions` in a block_actions payload."""
    kind = element.get("type", "")
    action: dict[str, Any] = {
        "type": kind,
        "block_id": block["block_id"],
        "action_id": element["action_id"],
        "action_ts": action_ts,
    }
    if kind == "button":
        action["text"] = element.get("text")
        for key in ("value", "style", "url"):
            if key in element:
                action[key] = element[key]
        return action
    where = f"{block['block_id']}/{element['action_id']}"
    if selected is None:
        raise ValueError(f"clicking the {kind} {where} needs selected=")
    entry = state_entry(ws, element, selected, where)
    entry.pop("type")
    action.update(entry)
    for key in ("placeholder", "initial_option", "initial_options", "initial_user", "initial_users"):
        if key in element:
            action[key] = element[key]
    return action
