"""The public routes of e-mail subscriptions, next to the status page's: the form (`/status/subscribe`),
the confirmation link, and the unsubscribe link (GET: a page with a button; POST: RFC 8058 one-click).

Thin: read the form or the token, call `Subscriptions`, send the page it answers. Never cached (each
answer depends on the request), never framed.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.services.subscriptions import Answer, Subscriptions

log = logging.getLogger(__name__)
FORM_MAX_BYTES = 16 * 1024
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
"""no-referrer: the page's links must not hand the token in its URL to anyone."""


def _send(answer: Answer) -> web.Response:
    return web.Response(status=answer.status, body=answer.html.encode(), headers=HEADERS)


def add_subscriber_routes(app: web.Application, subscriptions: Subscriptions) -> None:
    async def form(request: web.Request) -> web.Response:
        return _send(await subscriptions.form())

    async def subscribe(request: web.Request) -> web.Response:
        if (request.content_length or 0) > FORM_MAX_BYTES:
            return web.Response(status=413, text="Too large.\n")
        fields = await request.post()
        email = str(fields.get("email", ""))
        components = [str(c) for c in fields.getall("component", [])]
        return _send(await subscriptions.subscribe(email, bool(fields.get("all")), components))

    async def confirm(request: web.Request) -> web.Response:
        return _send(await subscriptions.confirm(request.query.get("token", "")))

    async def unsubscribe_page(request: web.Request) -> web.Response:
        return _send(await subscriptions.unsubscribe_page(request.query.get("token", "")))

    async def unsubscribe(request: web.Request) -> web.Response:
        """The token is the whole authority; the body (`List-Unsubscribe=One-Click` from a mail provider,
        or the page's button, which sends the same) is read only so the request completes."""
        if (request.content_length or 0) > FORM_MAX_BYTES:
            return web.Response(status=413, text="Too large.\n")
        await request.read()
        return _send(await subscriptions.unsubscribe(request.query.get("token", "")))

    app.router.add_get("/status/subscribe", form)
    app.router.add_post("/status/subscribe", subscribe)
    app.router.add_get("/status/subscribe/confirm", confirm)
    app.router.add_get("/status/unsubscribe", unsubscribe_page)
    app.router.add_post("/status/unsubscribe", unsubscribe)
