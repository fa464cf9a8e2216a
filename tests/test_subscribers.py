"""E-mail subscribers of the status page (issue 17), driven as the public and Slack drive the bot: the form
posted over HTTP, the confirmation and unsubscribe links followed out of the mails a real SMTP server
(aiosmtpd on 127.0.0.1) received, public updates posted through signed Slack requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_config
from bot.config.checks import template_problems
from bot.services.subscriptions import CONFIRM_MAIL
from bot.standin import RunningStandin
from bot.statuspage.tokens import Signer
from bot.store.models import SubscriberMailRow, SubscriberNoticeRow, SubscriberRow
from bot.store.retention import RetentionConfig, prune
from tests.fixtures_bot import EXAMPLE_CONFIG
from tests.fixtures_smtp import SmtpServer
from tests.statuspage_helpers import fetch
from tests.subscriber_helpers import (
    SECRET,
    confirmation,
    link_in,
    request,
    subscribe,
    subscribed,
    subscriber,
    subscribing_bot,
)

CONFIRM = "/status/subscribe/confirm"


async def test_double_opt_in_subscribes_only_after_the_link_is_followed(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        page = (await fetch(bot.url, "/status")).text
        assert (
            "Subscribe to updates" in page and 'action="https://status.example.com/status/subscribe"' in page
        )
        assert 'name="component" value="checkout"' in page
        form = await request(bot, "GET", "/status/subscribe")
        assert form.status == 200 and 'name="email"' in form.text

        answer = await subscribe(bot, "  Ann@Example.ORG ", ["checkout", "payments"])
        assert answer.status == 200 and "Check your inbox" in answer.text
        assert answer.headers["Cache-Control"] == "no-store"
        pending = await subscriber(bot, "ann@example.org")
        assert pending is not None and pending.status == "pending"

        mail = await confirmation(smtp_server, "ann@example.org")
        text, html = mail.part("plain"), mail.part("html")
        assert "Checkout, Payments" in text and "24 hours" in text
        path = link_in(text, CONFIRM)
        assert path in html  # the same link in the HTML part
        assert mail.message["List-Unsubscribe"] is None  # nobody is subscribed yet to leave

        confirmed = await request(bot, "GET", path)
        assert confirmed.status == 200 and "You are subscribed" in confirmed.text
        assert "Checkout, Payments" in confirmed.text
        found = await subscriber(bot, "ann@example.org")
        assert found is not None and found.status == "confirmed"
        assert found.components == ("checkout", "payments") and not found.all_components
        again = await request(bot, "GET", path)  # a second click (or a mail scanner first) changes nothing
        assert again.status == 200 and "You are subscribed" in again.text


async def test_the_answer_never_tells_whether_an_address_is_subscribed(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribed(bot, smtp_server, "known@example.org")
        assert (await subscribe(bot, "pending@example.org")).status == 200

        answers = [
            await subscribe(bot, "known@example.org"),
            await subscribe(bot, "pending@example.org"),  # within the cooldown: no second mail
            await subscribe(bot, "new@example.org"),
        ]
        assert {a.status for a in answers} == {200}
        assert len({a.body for a in answers}) == 1, "the three answers differ"
        assert "Check your inbox" in answers[0].text

        # The new address gets its link; the subscribed and the pending one had theirs a moment ago and
        # get no second within the cooldown (after it, a subscribed address may change its choice so).
        await confirmation(smtp_server, "new@example.org")
        assert not await bot.runtime.scheduler.store.pending(kind=CONFIRM_MAIL)
        assert len(smtp_server.handler.to("pending@example.org")) == 1
        assert len(smtp_server.handler.to("known@example.org")) == 1

        bad = await subscribe(bot, "not an address")
        assert bad.status == 400 and "does not look like an e-mail address" in bad.text
        unknown = await subscribe(bot, "x@example.org", ["nope"])
        assert unknown.status == 400 and "Choose among the components" in unknown.text


async def test_expired_tampered_and_stale_links_are_refused_with_a_page_that_says_why(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(database_url, standin, app_config, smtp_server) as bot:
        await subscribe(bot, "eve@example.org")
        path = link_in((await confirmation(smtp_server, "eve@example.org")).part("plain"), CONFIRM)
        token = path.split("token=", 1)[1]

        tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        answer = await request(bot, "GET", f"{CONFIRM}?token={tampered}")
        assert answer.status == 400 and "This link is not valid" in answer.text
        other_id = token.split(".")[0][:-2] + "xx." + token.split(".")[1]
        assert (await request(bot, "GET", f"{CONFIRM}?token={other_id}")).status == 400
        assert (await request(bot, "GET", CONFIRM)).status == 400  # no token at all

        eve = await subscriber(bot, "eve@example.org")
        assert eve is not None
        signer = Signer(SECRET)
        # A link as the bot signed it a day and an hour ago (this test knows the secret).
        old = signer.confirmation(eve.id, "whatever", datetime.now(UTC) - timedelta(hours=25))
        expired = await request(bot, "GET", f"{CONFIRM}?token={old}")
        assert expired.status == 410 and "expired" in expired.text and "Subscribe to updates" in expired.text
        # An unsubscribe link is no confirmation link, though signed with the same secret.
        swapped = await request(bot, "GET", f"{CONFIRM}?token={signer.unsubscribe(eve.id)}")
        assert swapped.status == 400
        # Signed, fresh, but not the latest link for the address: stale.
        stale = signer.confirmation(eve.id, "an-older-nonce", datetime.now(UTC))
        answer = await request(bot, "GET", f"{CONFIRM}?token={stale}")
        assert answer.status == 410 and "no longer works" in answer.text

        still = await subscriber(bot, "eve@example.org")
        assert still is not None and still.status == "pending"
        assert (await request(bot, "GET", path)).status == 200  # the real link still works


async def test_without_the_secret_subscriptions_are_off_and_say_so(
    database_url: str, standin: RunningStandin, app_config: Any, smtp_server: SmtpServer
) -> None:
    async with subscribing_bot(
        database_url, standin, app_config, smtp_server, subscription_secret=None
    ) as bot:
        page = (await fetch(bot.url, "/status")).text
        assert (
            "E-mail subscriptions are off" in page
            and 'action="https://status.example.com/status/subscribe"' not in page
        )
        answer = await subscribe(bot, "ann@example.org")
        assert answer.status == 404 and "E-mail subscriptions are off" in answer.text
        assert (await request(bot, "GET", "/status/subscribe")).status == 404
        assert (await request(bot, "GET", "/status/unsubscribe?token=x")).status == 404
        assert await subscriber(bot, "ann@example.org") is None
        assert bot.runtime.subscriber_mail is None


async def test_without_a_mail_server_the_form_is_off_but_links_already_sent_still_unsubscribe(
    database_url: str, standin: RunningStandin, app_config: Any
) -> None:
    async with subscribing_bot(database_url, standin, app_config, None) as bot:
        assert "E-mail subscriptions are off" in (await fetch(bot.url, "/status")).text
        assert (await subscribe(bot, "ann@example.org")).status == 404
        token = Signer(SECRET).unsubscribe(12345)
        page = await request(bot, "GET", f"/status/unsubscribe?token={token}")
        assert page.status == 200 and "Unsubscribe" in page.text


def test_config_check_renders_the_subscription_pages_and_mails(tmp_path: Path) -> None:
    """An override of a subscriber mail with a misspelt variable is found by `config check`, not by the
    fan-out during an incident."""
    (tmp_path / "subscriber_update.txt.j2").write_text("{{ unsubscribe_link }}")
    (tmp_path / "status_subscribe_form.html.j2").write_text("{{ form.emial }}")
    config = load_config(EXAMPLE_CONFIG).model_copy(update={"templates_dir": tmp_path})
    found = "\n".join(template_problems(config))
    assert "subscriber_update.txt/html.j2: UndefinedError" in found and "unsubscribe_link" in found
    assert "status_subscribe.html.j2: UndefinedError" in found
    assert "status_page.html.j2: UndefinedError" in found


async def test_prune_deletes_old_subscriber_mail_and_stale_subscriptions_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=200), now - timedelta(days=1)

    def person(email: str, status: str, created: datetime, **more: Any) -> SubscriberRow:
        values = {"all_components": True, "components": [], "requested_all": True, "requested_components": []}
        return SubscriberRow(email=email, status=status, created_at=created, **{**values, **more})

    def notice(key: str, created: datetime) -> SubscriberNoticeRow:
        return SubscriberNoticeRow(
            key=key, components=[], subject="s", text="t", html="h", tag=key, created_at=created
        )

    async with sessions() as session, session.begin():
        reader = person("reader@example.org", "confirmed", old)
        never = person("never@example.org", "pending", old, confirm_sent_at=old)
        asked = person("asked@example.org", "pending", recent, confirm_sent_at=recent)
        left = person("left@example.org", "unsubscribed", old, unsubscribed_at=old)
        gone, fresh, waiting = notice("gone", old), notice("fresh", recent), notice("waiting", old)
        session.add_all([reader, never, asked, left, gone, fresh, waiting])
        await session.flush()
        session.add_all(
            [
                SubscriberMailRow(notice_id=gone.id, subscriber_id=reader.id, status="sent", attempts=1),
                SubscriberMailRow(notice_id=fresh.id, subscriber_id=reader.id, status="sent", attempts=1),
                SubscriberMailRow(
                    notice_id=waiting.id, subscriber_id=reader.id, status="pending", attempts=3
                ),
            ]
        )
    dry = await prune(sessions, RetentionConfig(), now, dry_run=True)
    assert (dry.subscriber_mails, dry.subscriber_notices, dry.subscribers) == (1, 0, 2)
    pruned = await prune(sessions, RetentionConfig(), now)
    assert (pruned.subscriber_mails, pruned.subscriber_notices, pruned.subscribers) == (1, 1, 2)
    async with sessions() as session:
        assert sorted(await session.scalars(select(SubscriberRow.email))) == [
            "asked@example.org",
            "reader@example.org",
        ]
        assert sorted(await session.scalars(select(SubscriberNoticeRow.key))) == ["fresh", "waiting"]
