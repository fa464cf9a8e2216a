"""Shared steps of the subscriber tests: a bot that mails, the form posted as a browser posts it, the links
read out of the mails the local SMTP server received."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from bot.standin import RunningStandin, eventually
from bot.statuspage.subscribers import Subscriber
from tests.fixtures_bot import BotUnderTest, bot_settings, running_bot
from tests.fixtures_smtp import MAIL_FROM, Received, SmtpServer
from tests.statuspage_helpers import Answer

SECRET = "test-subscription-secret-0123456789"
PUBLIC = "https://status.example.com"
LINK = re.compile(r"https://status\.example\.com(/status/[a-z/]+\?token=[A-Za-z0-9_.\-]+)")


@asynccontextmanager
async def subscribing_bot(
    database_url: str, standin: RunningStandin, app_config: Any, server: SmtpServer | None, **overrides: Any
) -> AsyncIterator[BotUnderTest]:
    values: dict[str, Any] = {"subscription_secret": SECRET}
    if server is not None:
        values |= {"smtp_url": server.url(), "mail_from": MAIL_FROM}
    settings = bot_settings(database_url, standin, **{**values, **overrides})
    async with running_bot(settings, app_config, standin.workspace) as bot:
        yield bot


async def request(bot: BotUnderTest, method: str, path: str, data: Any = None, **headers: str) -> Answer:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, bot.url + path, data=data, headers=headers, allow_redirects=False
        ) as response,
    ):
        return Answer(response.status, response.headers.copy(), await response.read())


async def subscribe(bot: BotUnderTest, email: str, components: list[str] | None = None) -> Answer:
    """The form as a browser posts it: `components` None ticks "All components"."""
    fields: list[tuple[str, str]] = [("email", email)]
    fields += [("all", "1")] if components is None else [("component", c) for c in components]
    return await request(bot, "POST", "/status/subscribe", fields)


def link_in(text: str, path: str) -> str:
    """The path and query of the first link to `path` in a mail's text (the public base URL cut off, so the
    test can follow it on the bot's own address)."""
    found = [m for m in LINK.findall(text) if m.startswith(path + "?")]
    assert found, f"no {path} link in:\n{text}"
    return found[0]


async def confirmation(server: SmtpServer, email: str, count: int = 1) -> Received:
    mails = await eventually(lambda: _at_least(_confirmations(server, email), count), timeout=10)
    return mails[-1]


def _confirmations(server: SmtpServer, email: str) -> list[Received]:
    return [r for r in server.handler.to(email) if str(r.message["Subject"]).startswith("Confirm")]


def _at_least(items: list[Received], count: int) -> list[Received] | None:
    return items if len(items) >= count else None


def updates_to(server: SmtpServer, email: str) -> list[Received]:
    return [r for r in server.handler.to(email) if not str(r.message["Subject"]).startswith("Confirm")]


async def subscribed(
    bot: BotUnderTest, server: SmtpServer, email: str, components: list[str] | None = None
) -> None:
    """Subscribe and follow the confirmation link, as a person does."""
    assert (await subscribe(bot, email, components)).status == 200
    mail = await confirmation(server, email)
    answer = await request(bot, "GET", link_in(mail.part("plain"), "/status/subscribe/confirm"))
    assert answer.status == 200 and "You are subscribed" in answer.text, answer.text


async def subscriber(bot: BotUnderTest, email: str) -> Subscriber | None:
    return await bot.runtime.subscriptions.store.by_email(email)
