"""The public, read-only calendar feeds: `GET /oncall/ical/{token}.ics`.

The token is the only credential (whoever has the URL reads the rota, as with Google's secret iCal
addresses), so an unknown or revoked one is a plain 404 that tells nothing; `incidentbot oncall
ical-token` issues and revokes them. Beside the status page routes, apart from `/sandbox` and
`/metrics`, so a reverse proxy can expose it with them."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.services.rota import Rota

log = logging.getLogger(__name__)
PATH = "/oncall/ical/{token:[A-Za-z0-9_-]{16,128}}.ics"


def add_oncall_routes(app: web.Application, rota: Rota) -> None:
    async def ical(request: web.Request) -> web.Response:
        try:
            body = await rota.calendar(request.match_info["token"])
        except Exception:  # the database is away: the calendar client tries again later
            log.exception("calendar feed could not be rendered")
            return web.Response(status=503, text="The calendar is temporarily unavailable.\n")
        if body is None:
            return web.Response(status=404, text="Not found.\n")
        return web.Response(
            body=body,
            headers={
                "Content-Type": "text/calendar; charset=utf-8",
                "Cache-Control": "private, max-age=300",
                "Content-Disposition": 'inline; filename="oncall.ics"',
            },
        )

    app.router.add_get(PATH, ical)
