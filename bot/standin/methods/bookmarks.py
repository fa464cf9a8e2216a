"""`bookmarks.*`: the links in a channel's header (a dashboard, the video bridge, the status page).

Slack takes only `type=link` from apps, refuses a channel the bot cannot see, and keeps at most 100
bookmarks per channel.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from bot.standin.methods.calls import Args, Handler, registrar, visible_channel
from bot.standin.state import SlackError, Workspace

METHODS: dict[str, Handler] = {}
method = registrar(METHODS)
BOOKMARKS_MAX = 100


@method("bookmarks.add")
def bookmarks_add(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args, "channel_id")
    title, link, kind = args.str("title"), args.str("link"), args.str("type")
    if not title:
        raise SlackError("invalid_arguments")
    if kind != "link":
        raise SlackError("invalid_bookmark_type")
    parsed = urlparse(link or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SlackError("invalid_link")
    if len(channel.bookmarks) >= BOOKMARKS_MAX:
        raise SlackError("too_many_bookmarks")
    bookmark = {
        "id": f"Bk{len(channel.bookmarks) + 1:08d}{channel.id[-4:]}",
        "channel_id": channel.id,
        "title": title,
        "link": link,
        "emoji": args.str("emoji"),
        "type": "link",
        "entity_id": None,
        "date_created": int(float(ws.next_ts())),
        "date_updated": 0,
        "rank": chr(ord("a") + len(channel.bookmarks) % 26),
        "last_updated_by_user_id": ws.bot_user_id,
    }
    channel.bookmarks.append(bookmark)
    return {"bookmark": bookmark}


@method("bookmarks.list")
def bookmarks_list(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args, "channel_id")
    return {"bookmarks": list(channel.bookmarks)}


@method("bookmarks.remove")
def bookmarks_remove(ws: Workspace, args: Args) -> dict[str, Any]:
    channel = visible_channel(ws, args, "channel_id")
    wanted = args.str("bookmark_id")
    kept = [b for b in channel.bookmarks if b["id"] != wanted]
    if len(kept) == len(channel.bookmarks):
        raise SlackError("not_found")
    channel.bookmarks[:] = kept
    return {}
