"""`views.*`: modals (open, push, update) and the App Home tab (publish).

Checks each view with `blockkit.validate_view`, and enforces trigger expiry, the view stack limit,
`hash` conflicts and unique `external_id`s as Slack does.
"""

from __future__ import annotations

from typing import Any

from bot.standin.blockkit import validate_view
from bot.standin.methods.calls import Args, Handler, known_user, registrar
from bot.standin.state import VIEW_STACK_MAX, SlackError, View, Workspace

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


def _view_arg(args: Args, *, kind: str) -> dict[str, Any]:
    view = args.json("view")
    if view is None:
        raise SlackError("invalid_arguments", messages=["missing required field: view"])
    problems = validate_view(view)
    if not problems and view.get("type") != kind:
        problems = [f"must be {kind} for this method [json-pointer:/view/type]"]
    if problems:
        raise SlackError("invalid_arguments", messages=problems)
    return dict(view)


def _check_external_id(ws: Workspace, view: dict[str, Any], current: View | None = None) -> None:
    external_id = view.get("external_id")
    if external_id:
        owner = ws.view_by_external_id(external_id)
        if owner is not None and owner is not current and owner.is_open:
            raise SlackError("duplicate_external_id")


@method("views.open")
def views_open(ws: Workspace, args: Args) -> dict[str, Any]:
    view = _view_arg(args, kind="modal")
    _check_external_id(ws, view)
    trigger = ws.exchange_trigger(args.str("trigger_id"))
    for previous in ws.open_views(trigger.user):
        previous.is_open = False
    stored = ws.add_view(trigger.user, view)
    return {"view": stored.to_api(ws)}


@method("views.push")
def views_push(ws: Workspace, args: Args) -> dict[str, Any]:
    view = _view_arg(args, kind="modal")
    _check_external_id(ws, view)
    trigger = ws.exchange_trigger(args.str("trigger_id"))
    open_views = ws.open_views(trigger.user)
    if not open_views:
        raise SlackError("not_found", messages=["views.push needs a modal that is open for this user"])
    top = open_views[-1]
    if len(ws.stack(top.id)) >= VIEW_STACK_MAX:
        raise SlackError("push_limit_reached")
    stored = ws.add_view(trigger.user, view, previous=top)
    return {"view": stored.to_api(ws)}


@method("views.update")
def views_update(ws: Workspace, args: Args) -> dict[str, Any]:
    view_id, external_id = args.str("view_id"), args.str("external_id")
    stored = ws.views.get(view_id or "") if view_id else ws.view_by_external_id(external_id or "")
    if stored is None or not stored.is_open:
        raise SlackError("not_found")
    view = _view_arg(args, kind=stored.type)
    expected = args.str("hash")
    if expected and expected != stored.hash:
        raise SlackError("hash_conflict")
    _check_external_id(ws, view, stored)
    ws.replace_view(stored, view)
    return {"view": stored.to_api(ws)}


@method("views.publish")
def views_publish(ws: Workspace, args: Args) -> dict[str, Any]:
    user = known_user(ws, args.str("user_id"))
    view = _view_arg(args, kind="home")
    existing = ws.views.get(ws.home_views.get(user, ""))
    if existing is None:
        existing = ws.add_view(user, view)
        ws.home_views[user] = existing.id
    else:
        expected = args.str("hash")
        if expected and expected != existing.hash:
            raise SlackError("hash_conflict")
        ws.replace_view(existing, view)
    return {"view": existing.to_api(ws)}
