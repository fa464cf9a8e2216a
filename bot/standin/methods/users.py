"""Who is who: `auth.*`, `api.test`, `team.info`, `bots.info`, `users.*` and `usergroups.*`.

Methods about the workspace, its bot and its people; the bot resolves names and on-call groups through
them, and keeps an on-call user group's members with `usergroups.users.update`.
"""

from __future__ import annotations

from typing import Any

from bot.standin.methods.calls import Args, Handler, known_user, paginate, registrar
from bot.standin.state import SlackError, Workspace

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)


@method("auth.test")
def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {
        "url": ws.web_url,
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@method("api.test")
def api_test(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"args": {k: v for k, v in args.data.items() if k != "token"}}


@method("team.info")
def team_info(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain, "url": ws.web_url}}


@method("bots.info")
def bots_info(ws: Workspace, args: Args) -> dict[str, Any]:
    if args.str("bot", ws.bot_id) != ws.bot_id:
        raise SlackError("bot_not_found")
    return {
        "bot": {
            "id": ws.bot_id,
            "app_id": ws.app_id,
            "user_id": ws.bot_user_id,
            "name": ws.bot_name,
            "deleted": False,
        }
    }


@method("users.info")
def users_info(ws: Workspace, args: Args) -> dict[str, Any]:
    return {"user": ws.users[known_user(ws, args.str("user"))].to_api(ws)}


@method("users.list")
def users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    members, metadata = paginate([u.to_api(ws) for u in ws.users.values()], args, default_limit=0)
    return {"members": members, "cache_ts": int(ws.now()), "response_metadata": metadata}


@method("users.lookupByEmail")
def users_lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    email = (args.str("email") or "").lower()
    user = next((u for u in ws.users.values() if (u.email or "").lower() == email and email), None)
    if user is None:
        raise SlackError("users_not_found")
    return {"user": user.to_api(ws)}


@method("users.profile.get")
def users_profile_get(ws: Workspace, args: Args) -> dict[str, Any]:
    user_id = known_user(ws, args.str("user", ws.bot_user_id))
    return {"profile": ws.users[user_id].to_api(ws)["profile"]}


@method("usergroups.list")
def usergroups_list(ws: Workspace, args: Args) -> dict[str, Any]:
    include_users = args.bool("include_users")
    groups = []
    for group in ws.usergroups.values():
        data: dict[str, Any] = {
            "id": group.id,
            "team_id": ws.team_id,
            "handle": group.handle,
            "name": group.name,
            "user_count": len(group.users),
        }
        if include_users:
            data["users"] = list(group.users)
        groups.append(data)
    return {"usergroups": groups}


@method("usergroups.users.list")
def usergroups_users_list(ws: Workspace, args: Args) -> dict[str, Any]:
    group = ws.usergroups.get(args.str("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}


@method("usergroups.users.update")
def usergroups_users_update(ws: Workspace, args: Args) -> dict[str, Any]:
    """Replace the group's members, as Slack does: at least one user, every one of them known."""
    group = ws.usergroups.get(args.str("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    users = args.list("users")
    if not users:
        raise SlackError("no_users_provided")
    if any(user not in ws.users for user in users):
        raise SlackError("invalid_users")
    group.users = list(dict.fromkeys(users))
    data = {"id": group.id, "team_id": ws.team_id, "handle": group.handle, "name": group.name}
    return {"usergroup": {**data, "users": list(group.users), "user_count": len(group.users)}}
