"""Retries, concurrency, bad input and Slack failures, each seen from the user's side."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import AppConfig, Settings
from bot.domain import EventKind, Incident
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, ANNOUNCEMENTS, BOB, GENERAL, BotUnderTest, bot_settings, running_bot
from tests.processes import hanging_port, refusing_port
from tests.test_lifecycle import declare, latest_view, local_day


async def test_retried_view_submission_makes_one_incident(bot: BotUnderTest) -> None:
    await bot.driver.slash(ALICE, GENERAL, "declare Search is slow")
    view = await latest_view(bot, ALICE, "declare_incident")
    first = await bot.driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV3"}})
    retries = await asyncio.gather(*(bot.driver.redeliver(first, retry_num=n) for n in (1, 2)))
    assert all(r.status == 200 for r in (first, *retries))
    incident = await eventually(lambda: _open_with_announcement(bot))
    await asyncio.sleep(0.3)  # give a wrongly duplicated declare time to show up
    assert len(await bot.runtime.incidents.list_open()) == 1
    assert len([c for c in bot.workspace.calls_to("conversations.create") if c.ok]) == 1
    assert len(bot.workspace.messages(ANNOUNCEMENTS)) == 1
    assert incident.title == "Search is slow"


async def _open_with_announcement(bot: BotUnderTest):  # type: ignore[no-untyped-def]
    incidents = [i for i in await bot.runtime.incidents.list_open() if i.announcement_ts]
    return incidents[0] if incidents else None


async def test_two_concurrent_declares_with_one_title_get_two_channels(bot: BotUnderTest) -> None:
    for user in (ALICE, BOB):
        await bot.driver.slash(user, GENERAL, "declare Login broken")
    views = [await latest_view(bot, user, "declare_incident") for user in (ALICE, BOB)]
    await asyncio.gather(
        *(
            bot.driver.submit_view(user, view.id, {"severity": {"value": "SEV1"}})
            for user, view in zip((ALICE, BOB), views, strict=True)
        )
    )

    async def both() -> list | None:  # type: ignore[type-arg]
        incidents = [i for i in await bot.runtime.incidents.list_open() if i.announcement_ts]
        return incidents if len(incidents) == 2 else None

    incidents = await eventually(both)
    assert len({i.channel_id for i in incidents}) == 2
    assert {i.reporter for i in incidents} == {ALICE, BOB}
    assert bot.workspace.errors() == []


async def test_empty_title_is_an_inline_error_and_keeps_the_modal(bot: BotUnderTest) -> None:
    await bot.driver.slash(ALICE, GENERAL, "declare")
    view = await latest_view(bot, ALICE, "declare_incident")
    ack = await bot.driver.submit_view(
        ALICE, view.id, {"title": {"value": "   "}, "severity": {"value": "SEV2"}}
    )
    assert ack.view_errors is not None and "title is empty" in ack.view_errors["title"]
    assert bot.workspace.views[view.id].is_open
    assert await bot.runtime.incidents.list_open() == []


@pytest.mark.parametrize(
    "invisible",
    ["\u200b\u200b\u200b", "\u200c\u200d\u2060\ufeff", "\u202e\u2066\u2069\u200f", "\u00ad \u200b \t"],
)
async def test_an_invisible_title_is_an_inline_error(bot: BotUnderTest, invisible: str) -> None:
    await bot.driver.slash(ALICE, GENERAL, "declare")
    view = await latest_view(bot, ALICE, "declare_incident")
    ack = await bot.driver.submit_view(
        ALICE, view.id, {"title": {"value": invisible}, "severity": {"value": "SEV2"}}
    )
    assert ack.view_errors is not None and "title is empty" in ack.view_errors["title"]
    assert bot.workspace.views[view.id].is_open
    assert await bot.runtime.incidents.list_open() == []


async def test_bidi_controls_and_zero_width_characters_are_not_stored_or_shown(bot: BotUnderTest) -> None:
    await bot.driver.slash(ALICE, GENERAL, "declare")
    view = await latest_view(bot, ALICE, "declare_incident")
    typed = "Checkout \u202egnp.exe\u202c is\u200b down\u2066"
    values = {"title": {"value": typed}, "severity": {"value": "SEV2"}, "summary": {"value": "x"}}
    ack = await bot.driver.submit_view(ALICE, view.id, values)
    assert ack.view_errors is None

    async def announced() -> Incident | None:
        return next((i for i in await bot.runtime.incidents.list_open() if i.announcement_ts), None)

    incident = await eventually(announced)
    assert incident.title == "Checkout gnp.exe is down"
    [declared] = [e for e in await bot.runtime.incidents.store.timeline(incident.id) if e.kind == "declared"]
    assert declared.text == "Checkout gnp.exe is down"
    shown = str([c.args for c in bot.workspace.calls])
    for hidden in ("\u202e", "\u202c", "\u200b", "\u2066"):
        assert hidden not in shown and hidden not in (incident.channel_name or "")


async def test_five_thousand_character_title_is_shortened_and_kept_as_summary(bot: BotUnderTest) -> None:
    long_title = ("Payment provider times out " * 200)[:5000]
    response = await bot.driver.slash(ALICE, GENERAL, f"declare {long_title}")
    assert response.status == 200
    view = await latest_view(bot, ALICE, "declare_incident")
    blocks = {b.get("block_id"): b for b in view.view["blocks"]}
    assert len(blocks["title"]["element"]["initial_value"]) <= 150
    assert blocks["summary"]["element"]["initial_value"].startswith("Payment provider times out")
    note = await eventually(lambda: [r for r in bot.workspace.responses if "5000 characters" in str(r)])
    assert note
    ack = await bot.driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV2"}})
    assert ack.json and ack.json["response_action"] == "update"


async def test_unknown_subcommand_shows_help(bot: BotUnderTest) -> None:
    response = await bot.driver.slash(ALICE, GENERAL, "frobnicate now")
    assert response.status == 200 and response.json is not None
    blocks = response.json["blocks"]  # what Slack shows: the blocks, not the fallback text
    assert blocks[0]["text"]["text"] == ":grey_question: Unknown command `frobnicate`."
    for sub in (
        "declare",
        "update",
        "status",
        "severity",
        "assign",
        "note",
        "resolve",
        "reopen",
        "list",
        "help",
    ):
        assert f"/incident {sub}" in str(blocks)
    typo = await bot.driver.slash(ALICE, GENERAL, "resolv")
    assert typo.json is not None
    assert typo.json["blocks"][0]["text"]["text"].endswith("did you mean `/incident resolve`?")


async def test_reopen_from_the_command_line(bot: BotUnderTest) -> None:
    response = await bot.driver.slash(ALICE, GENERAL, "reopen")
    assert "works in an incident channel" in response.body
    incident = await declare(bot)
    channel = incident.channel_id or ""
    refused = await bot.driver.slash(ALICE, channel, "reopen")
    assert f"{incident.reference} is not resolved, so there is nothing to reopen." in refused.body
    await bot.driver.click(ALICE, "incident_resolve", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "resolve_incident")
    await bot.driver.submit_view(ALICE, view.id, {"resolution": {"value": "Fixed."}})
    await eventually(lambda: _status_is(bot, incident.id, "resolved"))
    answer = await bot.driver.slash(ALICE, channel, "reopen")
    assert f"Reopening {incident.reference}" in answer.body
    await eventually(lambda: _status_is(bot, incident.id, "investigating"))
    timeline = await bot.runtime.incidents.store.timeline(incident.id)
    assert EventKind.REOPENED in [e.kind for e in timeline]


async def _status_is(bot: BotUnderTest, incident_id: int, status: str) -> bool:
    return (await bot.incident(incident_id)).status == status


async def test_help_and_empty_command(bot: BotUnderTest) -> None:
    for text in ("help", ""):
        response = await bot.driver.slash(ALICE, GENERAL, text)
        assert "/incident declare" in response.body and "Unknown" not in response.body


@pytest.mark.parametrize(
    "text",
    ["update", "status identified", "severity SEV1", "note hello", "resolve", "assign ic <@U0BOB00000|bob>"],
)
async def test_incident_commands_outside_an_incident_channel_say_so(bot: BotUnderTest, text: str) -> None:
    response = await bot.driver.slash(ALICE, GENERAL, text)
    assert response.status == 200
    assert "works in an incident channel, and this is not one" in response.body
    assert bot.views_opened() == []


async def test_bad_arguments_in_an_incident_channel(bot: BotUnderTest) -> None:
    incident = await declare(bot)
    channel = incident.channel_id or ""
    cases = {
        "severity SEV9": "Unknown severity 'SEV9'",
        "severity SEV2": "already SEV2",
        "status sleeping": "Unknown status 'sleeping'",
        "status resolved": "Use `/incident resolve`",
        "assign wizard <@U0BOB00000|bob>": "Unknown role 'wizard'",
        "assign ic nobody": "Usage: `/incident assign <role> @user`",
        "note": "The note is empty",
    }
    for text, expected in cases.items():
        response = await bot.driver.slash(ALICE, channel, text)
        assert response.status == 200 and expected in response.body, (text, response.body)
    after = await bot.incident(incident.id)
    assert (after.severity, after.status, after.roles) == (incident.severity, incident.status, incident.roles)


async def test_list_shows_open_incidents(bot: BotUnderTest) -> None:
    response = await bot.driver.slash(ALICE, GENERAL, "list")
    assert "No open incidents" in response.body
    incident = await declare(bot)
    response = await bot.driver.slash(BOB, GENERAL, "list")
    assert (
        "INC-" in response.body
        and incident.title in response.body
        and f"<#{incident.channel_id}>" in response.body
    )


async def test_tampered_signature_and_stale_timestamp_are_refused(bot: BotUnderTest) -> None:
    form = {
        "command": "/incident",
        "text": "declare x",
        "user_id": ALICE,
        "channel_id": GENERAL,
        "trigger_id": bot.workspace.issue_trigger(ALICE),
    }
    body = urllib.parse.urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **bot.driver.signed_headers(body)}
    tampered = body.replace(b"declare+x", b"declare+y")
    assert (await bot.driver.raw(tampered, headers)).status == 401
    stale = {
        "Content-Type": "application/x-www-form-urlencoded",
        **bot.driver.signed_headers(body, timestamp=int(time.time()) - 6 * 60),
    }
    assert (await bot.driver.raw(body, stale)).status == 401
    assert (await bot.driver.raw(body, headers)).status == 200  # the same body, correctly signed, works
    await latest_view(bot, ALICE, "declare_incident")
    assert len(bot.views_opened()) == 1


async def test_name_taken_picks_another_channel_name(bot: BotUnderTest) -> None:
    today = time.strftime("%Y%m%d")  # may differ from the team's day near midnight: take both
    for day in {today, local_day(bot, _probe_incident(bot))}:
        bot.workspace.add_channel(f"inc-{day}-1-checkout-is-down")
    incident = await declare(bot)
    assert incident.channel_name and incident.channel_name.endswith("-checkout-is-down-2")
    assert any(c.error == "name_taken" for c in bot.workspace.calls_to("conversations.create"))


def _probe_incident(bot: BotUnderTest):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from bot.domain import Incident

    return Incident(1, "x", "SEV1", "investigating", "", None, False, ALICE, datetime.now(UTC))


@pytest.fixture
async def bot_with_ghost_responder(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> AsyncIterator[BotUnderTest]:
    config = app_config.model_copy(update={"responders": [*app_config.responders, "U0GHOST000"]})
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as under_test:
        yield under_test


async def test_invite_failure_is_shown_in_the_channel_and_the_rest_works(
    bot_with_ghost_responder: BotUnderTest,
) -> None:
    bot = bot_with_ghost_responder
    incident = await declare(bot)
    channel = bot.workspace.channels[incident.channel_id or ""]
    await eventually(lambda: {ALICE, "U0CAROL000", "U0DAVE0000"} <= channel.members)  # set up in parallel
    warning = await eventually(
        lambda: [m for m in channel.messages if "Could not invite responders" in message_text(m)]
    )
    assert "U0GHOST000" in message_text(warning[0]) and "user_not_found" in message_text(warning[0])
    assert "Invite them by hand" in message_text(warning[0])
    events = await bot.runtime.incidents.store.timeline(incident.id)
    assert [e.data["step"] for e in events if e.kind == EventKind.INTEGRATION_FAILED] == ["invite responders"]
    final = await eventually(
        lambda: next(
            (v for v in bot.workspace.views.values() if "Could not invite" in str(v.view.get("blocks"))), None
        )
    )
    assert f"<#{channel.id}>" in str(final.view["blocks"])


async def test_rate_limited_post_is_retried_after_retry_after(bot: BotUnderTest) -> None:
    bot.workspace.rate_limit_next("chat.postMessage", retry_after=1)
    incident = await declare(bot)
    posts = bot.workspace.calls_to("chat.postMessage")
    assert posts[0].status == 429 and all(c.ok for c in posts[1:])
    assert bot.workspace.channels[incident.channel_id or ""].find(incident.summary_ts or "") is not None


async def test_channel_creation_failure_keeps_the_incident(bot: BotUnderTest) -> None:
    bot.workspace.fail_next("conversations.create", "restricted_action")
    await bot.driver.slash(ALICE, GENERAL, "declare Queue is stuck")
    view = await latest_view(bot, ALICE, "declare_incident")
    await bot.driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV2"}})
    incident = await eventually(lambda: _open_with_announcement(bot))
    assert incident.channel_id is None
    final = await eventually(
        lambda: next(
            (v for v in bot.workspace.views.values() if "restricted_action" in str(v.view.get("blocks"))),
            None,
        )
    )
    assert "Could not create the incident channel" in str(final.view["blocks"])
    events = await bot.runtime.incidents.store.timeline(incident.id)
    assert EventKind.INTEGRATION_FAILED in [e.kind for e in events]


async def test_retried_pushpin_event_records_one_entry(bot: BotUnderTest) -> None:
    incident = await declare(bot)
    message = bot.workspace.add_message(incident.channel_id or "", BOB, "DB failover done")
    first = await bot.driver.reaction_added(ALICE, incident.channel_id or "", message.ts)
    await bot.driver.redeliver(first, retry_num=1)
    await bot.driver.reaction_added(
        BOB, incident.channel_id or "", message.ts
    )  # a second pin of the same message
    await eventually(lambda: _kinds(bot, incident.id, EventKind.MESSAGE_PINNED))
    await asyncio.sleep(0.2)
    assert len(await _kinds(bot, incident.id, EventKind.MESSAGE_PINNED)) == 1


async def _kinds(bot: BotUnderTest, incident_id: int, kind: EventKind) -> list:  # type: ignore[type-arg]
    return [e for e in await bot.runtime.incidents.store.timeline(incident_id) if e.kind == kind]


async def test_declare_from_a_message_shortcut_keeps_the_permalink(bot: BotUnderTest) -> None:
    message = bot.workspace.add_message(GENERAL, BOB, "Checkout returns 502 for everyone\nsince 03:00")
    await bot.driver.message_shortcut(ALICE, GENERAL, message.ts, "declare_incident_from_message")
    view = await latest_view(bot, ALICE, "declare_incident")
    blocks = {b.get("block_id"): b for b in view.view["blocks"]}
    assert blocks["title"]["element"]["initial_value"] == "Checkout returns 502 for everyone"
    assert "since 03:00" in blocks["summary"]["element"]["initial_value"]
    await bot.driver.submit_view(ALICE, view.id, {"severity": {"value": "SEV1"}})
    incident = await eventually(lambda: _open_with_announcement(bot))
    assert incident.source_permalink and message.ts.replace(".", "") in incident.source_permalink


async def test_buttons_change_severity_assign_a_role_and_reopen(bot: BotUnderTest) -> None:
    incident = await declare(bot)
    channel, ts = incident.channel_id or "", incident.summary_ts
    await bot.driver.click(BOB, "incident_change_severity", channel_id=channel, message_ts=ts)
    view = await latest_view(bot, BOB, "change_severity")
    await bot.driver.submit_view(BOB, view.id, {"severity": {"value": "SEV1"}})
    await bot.driver.click(BOB, "incident_assign_role", channel_id=channel, message_ts=ts)
    view = await latest_view(bot, BOB, "assign_role")
    await bot.driver.submit_view(BOB, view.id, {"role": {"value": "scribe"}, "user": {"value": ALICE}})

    async def changed():  # type: ignore[no-untyped-def]
        current = await bot.incident(incident.id)
        return current if current.severity == "SEV1" and current.roles.get("scribe") == ALICE else None

    current = await eventually(changed)
    assert current.roles_of(ALICE) == ["incident_commander", "scribe"]  # one person, two roles
    severity = await _kinds(bot, incident.id, EventKind.SEVERITY_CHANGED)
    assert severity[0].data == {"from": "SEV2", "to": "SEV1", "direction": "up"}
    await eventually(
        lambda: "raised the severity" in str([message_text(m) for m in bot.workspace.messages(channel)])
    )

    await bot.runtime.incidents.resolve(incident.id, "Fixed by restart", BOB)
    await eventually(lambda: "incident_reopen" in str(bot.workspace.message(channel, ts or "").blocks))
    await bot.driver.click(ALICE, "incident_reopen", channel_id=channel, message_ts=ts)
    reopened = await eventually(lambda: _reopened(bot, incident.id))
    assert reopened.resolved_at is None
    assert [c.error for c in bot.workspace.errors()] == ["already_in_channel"]  # Alice was in: harmless


async def _reopened(bot: BotUnderTest, incident_id: int):  # type: ignore[no-untyped-def]
    current = await bot.incident(incident_id)
    return current if current.status == "investigating" else None


async def test_healthz_and_metrics(bot: BotUnderTest) -> None:
    import aiohttp

    await declare(bot)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{bot.url}/healthz") as response:
            report = await response.json()
            assert response.status == 200 and report["status"] == "healthy"
            assert report["checks"]["database"]["ok"] and report["checks"]["slack"]["ok"]
        async with session.get(f"{bot.url}/metrics") as response:
            text = await response.text()
    assert 'incidentbot_incidents_declared_total{severity="SEV2"} 1.0' in text
    assert 'incidentbot_incidents_open{severity="SEV2"} 1.0' in text
    assert 'incidentbot_incidents_open{severity="SEV1"} 0.0' in text
    assert "incidentbot_action_items_open 0.0" in text and "incidentbot_postmortems_overdue 0.0" in text
    assert "incidentbot_slack_ack_seconds_bucket" in text


@pytest.fixture
def refused_port() -> Iterator[int]:
    with refusing_port() as port:
        yield port


async def _health(settings: Settings, app_config: AppConfig, standin: RunningStandin) -> tuple[int, dict]:  # type: ignore[type-arg]
    import aiohttp

    async with (
        running_bot(settings, app_config, standin.workspace) as under_test,
        aiohttp.ClientSession() as session,
        session.get(f"{under_test.url}/healthz") as response,
    ):
        return response.status, await response.json()


async def test_healthz_is_degraded_when_slack_is_unreachable(
    database_url: str, standin: RunningStandin, app_config: AppConfig, refused_port: int
) -> None:
    settings = bot_settings(database_url, standin, slack_api_url=f"http://127.0.0.1:{refused_port}/api/")
    status, report = await _health(settings, app_config, standin)
    assert status == 200 and report["status"] == "degraded"
    assert report["checks"]["database"] == {"ok": True}
    assert report["checks"]["slack"]["ok"] is False
    assert str(refused_port) in report["checks"]["slack"]["error"]


async def test_healthz_explains_a_slack_url_that_answers_with_something_else(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    settings = bot_settings(database_url, standin, slack_api_url=f"{standin.url}not-the-api/")
    status, report = await _health(settings, app_config, standin)
    assert status == 200 and report["status"] == "degraded"
    assert report["checks"]["slack"] == {
        "ok": False,
        "error": f"auth.test failed at {standin.url}not-the-api/: HTTP 404, not a Slack API answer",
    }


async def test_healthz_answers_within_the_docker_check_when_slack_and_prometheus_hang(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    """The Docker health check gives up after 4 s; a degraded bot must still say so in time."""
    with hanging_port() as slack_port, hanging_port() as prometheus_port:
        settings = bot_settings(
            database_url,
            standin,
            slack_api_url=f"http://127.0.0.1:{slack_port}/api/",
            prometheus_url=f"http://127.0.0.1:{prometheus_port}",
        )
        started = time.monotonic()
        status, report = await _health(settings, app_config, standin)
        took = time.monotonic() - started
    assert status == 200 and report["status"] == "degraded"
    assert report["checks"]["database"] == {"ok": True}
    assert report["checks"]["slack"]["error"].startswith("no answer from")
    assert report["checks"]["prometheus"]["error"].startswith("Prometheus slow (no answer within")
    assert took < 4, took


async def test_resolved_means_resolved(bot: BotUnderTest) -> None:
    """After resolve, changes need Reopen, or an explicit reclassify that says what it does to reports."""
    incident = await declare(bot)  # SEV2
    channel = incident.channel_id or ""
    await bot.driver.click(ALICE, "incident_resolve", channel_id=channel, message_ts=incident.summary_ts)
    view = await latest_view(bot, ALICE, "resolve_incident")
    await bot.driver.submit_view(ALICE, view.id, {"resolution": {"value": "Fixed."}})
    await eventually(lambda: _status_is(bot, incident.id, "resolved"))

    summary = await eventually(
        lambda: next(
            (
                m
                for m in bot.workspace.messages(channel)
                if m.ts == incident.summary_ts and "Reopen" in str(m.blocks)
            ),
            None,
        )
    )
    actions = [b for b in summary.blocks if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions[0]["elements"]] == ["Reopen"]  # nothing else makes sense

    refused = await bot.driver.slash(ALICE, channel, "severity SEV1")
    assert (
        "is resolved. Changing its severity reclassifies it: reports will count it as SEV1 instead of SEV2"
        in (refused.body)
    )
    assert (await bot.incident(incident.id)).severity == "SEV2"
    for command, words in (
        ("update", "to post updates"),
        ("assign scribe <@U0BOB00000>", "to change its roles"),
    ):
        answer = await bot.driver.slash(ALICE, channel, command)
        assert f"{incident.reference} is resolved; reopen it (`/incident reopen`) {words}" in answer.body

    await bot.driver.slash(ALICE, channel, "severity SEV1 reclassify")
    await eventually(lambda: _severity_is(bot, incident.id, "SEV1"))
    listed = await bot.driver.slash(BOB, GENERAL, "list")  # resolved minutes ago: still listed, as such
    assert "Resolved in the last 24 h (1)" in listed.body and f"*{incident.reference}*" in listed.body
    timeline = await bot.runtime.incidents.store.timeline(incident.id)
    [change] = [e for e in timeline if e.kind == EventKind.SEVERITY_CHANGED]
    assert change.data == {"from": "SEV2", "to": "SEV1", "direction": "up", "reclassified": True}
    await eventually(
        lambda: any(
            "reclassified this resolved incident from SEV2" in message_text(m)
            for m in bot.workspace.messages(channel)
        )
    )


async def _severity_is(bot: BotUnderTest, incident_id: int, severity: str) -> bool:
    return (await bot.incident(incident_id)).severity == severity


async def test_healthz_answers_within_a_second_while_prometheus_hangs(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    """Prometheus is probed in the background: /healthz reports its last answer and age, at once."""
    import aiohttp

    with hanging_port() as prometheus_port:
        settings = bot_settings(database_url, standin, prometheus_url=f"http://127.0.0.1:{prometheus_port}")
        async with (
            running_bot(settings, app_config, standin.workspace) as bot,
            aiohttp.ClientSession() as http,
        ):

            async def healthz() -> dict:  # type: ignore[type-arg]
                started = time.monotonic()
                async with http.get(f"{bot.url}/healthz") as response:
                    report = await response.json()
                assert time.monotonic() - started < 1, report
                assert response.status == 200 and report["status"] == "degraded"
                assert report["checks"]["database"] == {"ok": True} and report["checks"]["slack"]["ok"]
                return report  # type: ignore[no-any-return]

            first = (await healthz())["checks"]["prometheus"]
            assert first["ok"] is False and "still probing" in first["error"]

            async def answered() -> dict | None:  # type: ignore[type-arg]
                prometheus = (await healthz())["checks"]["prometheus"]
                return prometheus if "checked_seconds_ago" in prometheus else None

            prometheus = await eventually(answered, timeout=15, interval=0.2)
    assert prometheus["error"].startswith("Prometheus slow (no answer within")
    assert prometheus["configured"] is True and 0 <= prometheus["checked_seconds_ago"] < 15


async def test_display_names_are_asked_once_per_person(bot: BotUnderTest) -> None:
    """A post-mortem names everyone whenever it is compiled: Slack is asked once per person, not each time."""
    before = len(bot.workspace.calls_to("users.info"))
    first = await bot.runtime.slack.display_names({ALICE, BOB})
    again = await bot.runtime.slack.display_names({ALICE, BOB})
    assert first == again and set(first) == {ALICE, BOB}
    assert len(bot.workspace.calls_to("users.info")) - before == 2
