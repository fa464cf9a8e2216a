"""The public, read-only routes of the status page: `/status`, `/status/incidents/{id}`, `/api/v2/*.json`,
`/history.atom`, `/history.rss`. No login; apart from `/slack/events`, `/metrics` and the sandbox, so a
reverse proxy can expose only these.

Each answer is a document rendered once per change (`PublicSite`), sent with its ETag, Last-Modified and a
short Cache-Control; a client that has it already gets 304 Not Modified.
"""

from __future__ import annotations

import logging
from email.utils import parsedate_to_datetime

from aiohttp import web

from bot.statuspage.site import Document, PublicSite

log = logging.getLogger(__name__)
PATHS = (
    "/status",
    "/status/incidents/{incident_id}",
    "/api/v2/{document:[a-z/-]+}.json",
    "/history.atom",
    "/history.rss",
)


def _not_modified(request: web.Request, document: Document) -> bool:
    tags = request.headers.get("If-None-Match")
    if tags is not None:
        wanted = {t.strip().removeprefix("W/") for t in tags.split(",")}
        return "*" in wanted or document.etag in wanted
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            return int(document.last_modified.timestamp()) <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def add_status_routes(app: web.Application, site: PublicSite) -> None:
    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        try:
            document = await site.document(path)
        except Exception:  # the database is away: say so plainly; the static export is the fallback
            log.exception("status page: could not render %s", path)
            return web.Response(status=503, text="The status page is temporarily unavailable.\n")
        if document is None:
            return web.Response(status=404, text="Not found.\n")
        if _not_modified(request, document):
            headers = {k: v for k, v in document.headers.items() if k != "Content-Type"}
            return web.Response(status=304, headers=headers)
        return web.Response(body=document.body, headers=document.headers)

    for path in PATHS:
        app.router.add_get(path, serve)
