"""On call that people can live with (issue 23), through Slack with a hand-moved clock: the hand-off at
09:00 Monday in the schedule's zone across the end of DST, swaps accepted and declined (and who is then
paged), overrides by a manager, the user group following a shift change, the calendar feed against
`who … at …`, and bad input answered with the usage.

The rota: Europe/Berlin, weekly, hand-off Monday 09:00, Alice and Bob from Monday 5 October 2026. Alice is
on call 19–26 October; DST ends on Sunday 25 October, so that hand-off is at 08:00 UTC, not 07:00.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from icalendar import Calendar

from bot.config import AppConfig
from bot.oncall.settings import OnCallConfig
from bot.services.rota_handoffs import HANDOFF, LOAD_SUMMARY
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    GENERAL,
    BotUnderTest,
    Clock,
    at_once,
    bot_settings,
    running_bot,
)
from tests.test_paging import buttons, declared, dms, paged_users

T0 = datetime(2026, 10, 21, 10, tzinfo=UTC)  # Wed 21 Oct, 12:00 in Berlin: Alice is on call
HANDOFF_AT = datetime(2026, 10, 26, 8, tzinfo=UTC)  # Mon 26 Oct 09:00 CET (after DST ended)
GROUP = "S0ONCALL00"  # seeded in the stand-in with Alice and Bob
ONCALL: dict[str, Any] = {
    "schedules": [
        {
            "id": "primary",
            "name": "Primary",
            "timezone": "Europe/Berlin",
            "channel": GENERAL,
            "usergroup": GROUP,
            "layers": [
                {"name": "weekly", "users": [ALICE, BOB], "rotation": "weekly", "start": "2026-10-05"}
            ],
        }
    ],
    "managers": [DAVE],
    "escalation": {"SEV2": [{"notify": {"schedule": "primary"}}, {"wait": "30m"}]},
}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def obot(
    database_url: str, standin: RunningStandin, app_config: AppConfig, clock: Clock
) -> AsyncIterator[BotUnderTest]:
    config = app_config.model_copy(update={"oncall": OnCallConfig.model_validate(ONCALL)})
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        yield bot


def general(bot: BotUnderTest, needle: str) -> list[Any]:
    return [m for m in bot.workspace.messages(GENERAL) if needle in message_text(m)]


def answers(bot: BotUnderTest, needle: str) -> list[Any]:
    return [r for r in bot.workspace.responses if needle in r.text]


async def oncall(bot: BotUnderTest, user: str, text: str) -> Any:
    response = await bot.driver.slash(user, GENERAL, text, command="/oncall")
    assert response.status == 200
    return response


async def test_handoff_posts_the_shift_at_nine_on_monday_across_the_dst_change(
    obot: BotUnderTest, clock: Clock
) -> None:
    bot = obot
    await bot.runtime.handoffs.start()
    [timer] = [t for t in await bot.runtime.scheduler.store.pending(kind=HANDOFF)]
    assert timer.due_at == HANDOFF_AT and timer.key == f"{HANDOFF}:primary:{HANDOFF_AT.isoformat()}"
    await bot.runtime.handoffs.start()  # a second replica starting plans nothing twice
    assert len(await bot.runtime.scheduler.store.pending(kind=HANDOFF)) == 1

    incident = await declared(bot, "SEV2")
    await bot.runtime.scheduler.run_due()
    [page] = dms(bot.workspace, ALICE)
    clock.advance(minutes=3)
    await bot.driver.click(ALICE, "page_ack", channel_id=page.channel, message_ts=page.ts)
    await eventually(lambda: "Acknowledged by" in message_text(page))

    await bot.driver.slash(ALICE, incident.channel_id or "", "action Add retries to the client")
    await eventually(lambda: bot.runtime.actions.store.open_items())
    clock.at = HANDOFF_AT - timedelta(hours=1)  # 09:00 by summer time: not a hand-off any more
    await bot.runtime.scheduler.run_due()
    assert general(bot, "Hand-off") == []
    clock.at = HANDOFF_AT
    await bot.runtime.scheduler.run_due()
    [post] = general(bot, "Hand-off: Primary")
    text = message_text(post)
    assert f"passes from <@{ALICE}> to <@{BOB}> at" in text and "Mon 26 Oct 09:00 CET" in text
    assert "Outgoing shift:" in text and "Mon 19 Oct 09:00 CEST" in text
    assert (
        "*Pages (1, 1 acknowledged)*" in text
        and f"<@{ALICE}> {incident.reference}: acked after 3 min" in text
    )
    assert f"*{incident.reference}* Checkout is down (SEV2, investigating)" in text
    assert f"*Open follow-ups (1)*\n• {incident.reference}: Add retries to the client" in text
    assert "_Nothing: every page was answered._" in text
    assert f"Mon 02 Nov 09:00 CET>: <@{BOB}>" in text  # the next 7 days: Bob's week
    for person in (ALICE, BOB):
        assert [m for m in dms(bot.workspace, person) if "Hand-off: Primary" in message_text(m)]

    await bot.runtime.scheduler.run_due()  # nothing twice
    assert len(general(bot, "Hand-off: Primary")) == 1
    pending = await bot.runtime.scheduler.store.pending(kind=HANDOFF)
    assert [t.due_at for t in pending] == [datetime(2026, 11, 2, 8, tzinfo=UTC)]  # the next Monday 09:00


@pytest.mark.parametrize("accept", [True, False])
async def test_a_swap_changes_who_is_paged_only_when_accepted(
    obot: BotUnderTest, clock: Clock, accept: bool
) -> None:
    bot = obot
    await oncall(bot, ALICE, f"swap <@{BOB}|bob> 2026-10-21T13:00 2026-10-22T13:00")
    await eventually(lambda: answers(bot, f"Asked <@{BOB}> to take your on-call time"))
    [ask] = await eventually(
        lambda: [m for m in dms(bot.workspace, BOB) if "asks you to take" in message_text(m)]
    )
    assert set(buttons(ask)) == {"oncall_swap_accept", "oncall_swap_decline"}
    action = "oncall_swap_accept" if accept else "oncall_swap_decline"
    # a double click, then Slack's retry of one of them: decided once
    clicks = await at_once(
        2, lambda _: bot.driver.click(BOB, action, channel_id=ask.channel, message_ts=ask.ts)
    )
    await eventually(lambda: "oncall_swap_accept" not in buttons(ask))
    await bot.driver.redeliver(clicks[0], retry_num=1)
    answered = "Accepted: you are on call" if accept else "Declined; nothing changed."
    await eventually(lambda: [m for m in bot.workspace.ephemerals_for(BOB) if "already" in m.text])
    assert message_text(ask).startswith(answered)

    clock.at = datetime(2026, 10, 21, 12, tzinfo=UTC)  # 14:00 in Berlin, inside the swap
    incident = await declared(bot, "SEV2")
    await bot.runtime.scheduler.run_due()
    assert await paged_users(bot, incident) == ([BOB] if accept else [ALICE])
    announced = general(bot, f"<@{BOB}> took over <@{ALICE}>'s on-call time (a swap)")
    assert len(announced) == (1 if accept else 0)
    moved = [m for m in dms(bot.workspace, ALICE) if "shift on 21 Oct" in message_text(m)]
    if accept:
        [note] = moved
        assert f"moved to <@{BOB}>" in message_text(note)
        assert [m for m in dms(bot.workspace, BOB) if "You are now on call for Primary" in message_text(m)]
    else:
        assert moved == []
        assert [m for m in dms(bot.workspace, ALICE) if "declined your swap" in message_text(m)]
    clock.at = datetime(2026, 10, 22, 12, tzinfo=UTC)  # after the swap: Alice again
    assert (await bot.runtime.rota.who_at(["primary", "at", "2026-10-22T14:00"]))[2].user == ALICE


async def test_overrides_by_managers_only_and_bad_input_gets_the_usage(obot: BotUnderTest) -> None:
    bot = obot
    await oncall(bot, ALICE, f"override <@{CAROL}|carol> 2026-10-28T09:00 2026-10-29T09:00")
    await eventually(lambda: answers(bot, "Only on-call managers"))
    await oncall(bot, ALICE, "swap")
    await eventually(lambda: answers(bot, "Usage: `/oncall swap @someone <from> <to>`"))
    await oncall(bot, ALICE, f"swap <@{BOB}|bob> 2026-13-01 2026-10-29")
    await eventually(lambda: answers(bot, "'2026-13-01' is not a date or time"))
    await oncall(bot, ALICE, "who primary 2026-10-28")
    await eventually(lambda: answers(bot, "Usage: `/oncall who <schedule> at <time>`"))
    response = await oncall(bot, ALICE, "help")
    assert "/oncall swap @someone <from> <to>" in response.body

    await oncall(bot, DAVE, f"override <@{CAROL}|carol> 2026-10-28T09:00 2026-10-29T09:00 primary")
    await eventually(lambda: answers(bot, f"<@{CAROL}> is on call for Primary from"))
    await eventually(lambda: general(bot, f"<@{DAVE}> put <@{CAROL}> on call (an override)"))
    await eventually(lambda: [m for m in dms(bot.workspace, BOB) if "shift on 28 Oct" in message_text(m)])
    await oncall(bot, ALICE, "who primary at 2026-10-28 12:00")
    await eventually(lambda: answers(bot, f"<@{CAROL}> is on call for *Primary* at"))
    await oncall(bot, CAROL, "next me")
    await eventually(lambda: answers(bot, f"Next shifts of <@{CAROL}>"))
    assert bot.workspace.errors() == []


async def test_the_user_group_follows_the_shift_change_and_a_refusal_is_retried(
    obot: BotUnderTest, clock: Clock
) -> None:
    bot = obot
    clock.at = HANDOFF_AT - timedelta(minutes=1)
    await bot.runtime.handoffs.start()
    await bot.runtime.scheduler.run_due()
    assert bot.workspace.usergroups[GROUP].users == [ALICE, BOB]
    bot.workspace.fail_next("usergroups.users.update", "internal_error")
    clock.at = HANDOFF_AT
    await bot.runtime.scheduler.run_due()  # the hand-off, which asks for the sync
    await bot.runtime.scheduler.run_due()  # the sync: refused once
    assert bot.workspace.usergroups[GROUP].users == [ALICE, BOB]
    clock.advance(seconds=10)
    await bot.runtime.scheduler.run_due()  # retried
    assert bot.workspace.usergroups[GROUP].users == [BOB]
    assert [c.error for c in bot.workspace.errors()] == ["internal_error"]


async def test_the_calendar_feed_parses_and_matches_who_is_on_call(obot: BotUnderTest) -> None:
    bot = obot
    await oncall(bot, DAVE, f"override <@{CAROL}|carol> 2026-10-28T09:00 2026-10-29T09:00 primary")
    await eventually(lambda: answers(bot, "is on call for Primary from"))
    store = bot.runtime.rota.store
    team, carol = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    await store.add_feed(team, "primary", T0)
    await store.add_feed(carol, CAROL, T0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bot.url}/oncall/ical/{team}.ics") as response:
            assert response.status == 200 and response.content_type == "text/calendar"
            calendar = Calendar.from_ical(await response.read())
        async with http.get(f"{bot.url}/oncall/ical/{carol}.ics") as response:
            mine = Calendar.from_ical(await response.read())
        async with http.get(f"{bot.url}/oncall/ical/{'x' * 32}.ics") as response:
            assert response.status == 404
    events = [
        (e.decoded("dtstart"), e.decoded("dtend"), str(e["description"])) for e in calendar.walk("VEVENT")
    ]
    assert len({str(e["uid"]) for e in calendar.walk("VEVENT")}) == len(events)
    for hours in range(0, 24 * 21, 7):  # every 7 hours over three weeks, DST change included
        at = T0 + timedelta(hours=hours)
        local = at.astimezone(bot.runtime.config.oncall.schedules[0].zone)
        _, _, shift = await bot.runtime.rota.who_at(["primary", "at", local.strftime("%Y-%m-%dT%H:%M")])
        [covering] = [d for start, end, d in events if start <= at < end]
        assert shift is not None and f"Slack user {shift.user}." in covering, (at, covering)
    [override] = list(mine.walk("VEVENT"))
    assert override.decoded("dtstart") == datetime(2026, 10, 28, 8, tzinfo=UTC)
    assert "(override)" in str(override["summary"])
    await store.revoke_feeds("primary", T0)
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/oncall/ical/{team}.ics") as response:
        assert response.status == 404


async def test_the_monthly_load_summary_is_posted_once_on_the_first(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    from tests.test_oncall_load import ONCALL as TEAM
    from tests.test_oncall_load import script

    section = {**TEAM, "load": {"report_channel": GENERAL}}
    config = app_config.model_copy(update={"oncall": OnCallConfig.model_validate(section)})
    clock = Clock(datetime(2026, 11, 30, 12, tzinfo=UTC))
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace, clock) as bot:
        await script(bot.runtime.rota.store.sessions)
        await bot.runtime.handoffs.start()
        [timer] = await bot.runtime.scheduler.store.pending(kind=LOAD_SUMMARY)
        assert timer.due_at == datetime(2026, 12, 1, 8, tzinfo=UTC)  # 1 Dec, 09:00 in Berlin
        clock.at = timer.due_at
        await bot.runtime.scheduler.run_due()
        [post] = general(bot, "On-call load, November 2026")
        text = message_text(post)
        # the calendar month: Alice's page of Sunday 1 Nov 13:00 counts too (out of hours, not at night)
        assert f"• <@{ALICE}>: 8 pages (4 at night, 6 out of hours), 80% of pages" in text
        assert f":warning: <@{ALICE}> paged 3 times during sleep hours in 2026-W46" in text
        [following] = await bot.runtime.scheduler.store.pending(kind=LOAD_SUMMARY)
        assert following.due_at == datetime(2027, 1, 1, 8, tzinfo=UTC)
        await bot.runtime.scheduler.run_due()
        assert len(general(bot, "On-call load, November 2026")) == 1
