"""Slack Web API methods, answered against a `Workspace` the way Slack answers them.

Each handler receives the merged call arguments and returns the success body (without `ok`), or
raises `SlackError` with Slack's own error code. Keeping this free of HTTP means the rules
(`name_taken`, `already_pinned`, trigger expiry, ...) read like a specification and can be reused by
anything that embeds the stand-in.

Behaviour is modelled on Slack's documented responses; where Slack is vague the stand-in picks the
stricter reading so that bot bugs surface here rather than in a real workspace.

This package assembles the `METHODS` table from one module per method family (`users`, `chat`,
`conversations`, `pins_reactions`, `views`, `files`), which share `calls` (arguments, lookups).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from bot.standin.methods import bookmarks, chat, conversations, files, pins_reactions, users, views
from bot.standin.methods.calls import Args, Handler
from bot.standin.state import SlackError, Workspace

__all__ = ["JSON_ARGUMENTS", "METHODS", "SCOPES", "decode_json_arguments", "dispatch"]

SCOPES = (
    "commands,chat:write,chat:write.public,channels:manage,channels:read,channels:join,channels:history,"
    "groups:write,groups:read,groups:history,im:write,im:read,pins:write,pins:read,reactions:read,"
    "reactions:write,users:read,users:read.email,usergroups:read,usergroups:write,files:write,files:read,team:read,"
    "bookmarks:read,bookmarks:write"
)
"""Scopes reported in X-OAuth-Scopes: what the incidentbot manifest asks for."""

JSON_ARGUMENTS = frozenset({"blocks", "view", "attachments", "files", "metadata"})
"""Arguments that arrive as JSON strings when sent as a form or query parameter."""


METHODS: dict[str, Handler] = {
    **users.METHODS,
    **chat.METHODS,
    **bookmarks.METHODS,
    **conversations.METHODS,
    **pins_reactions.METHODS,
    **views.METHODS,
    **files.METHODS,
}
"""Every Web API method the stand-in answers, one module per family."""


def dispatch(ws: Workspace, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one Web API method; the caller adds `ok` and turns `SlackError` into a refusal."""
    handler = METHODS.get(name)
    if handler is None:
        raise SlackError("unknown_method")
    return handler(ws, Args(args))


def decode_json_arguments(args: dict[str, Any]) -> dict[str, Any]:
    """Decode `blocks`/`view`/... sent as JSON strings, leaving malformed ones for the handler to refuse."""
    decoded = dict(args)
    for key in JSON_ARGUMENTS & decoded.keys():
        value = decoded[key]
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(json.JSONDecodeError):
                decoded[key] = json.loads(value)
    return decoded
