"""The Slack stand-in answers like Slack, and the driver talks to a real Bolt app like Slack does."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin import (
    EMPTY,
    RunningStandin,
    SlackDriver,
    Workspace,
    eventually,
    validate_message,
    validate_view,
)
from tests.fixtures_slack import BOT_TOKEN, SIGNING_SECRET

ALICE, BOB = "U0ALICE000", "U0BOB00000"
INCIDENTS = "C0INCIDENT"


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def option(value: str) -> dict[str, Any]:
    return {"text": plain(value.upper()), "value": value}


def modal(title: str = "Declare", blocks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": plain(title),
        "submit": plain("Declare"),
        "blocks": blocks if blocks is not None else [section("hello")],
        **extra,
    }


async def slack_error(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        await call
    return dict(caught.value.response.data)


# -- Web API ---------------------------------------------------------------------------------------


async def test_post_update_pin_permalink(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    posted = await slack_client.chat_postMessage(
        channel="#incidents", text="SEV1 declared", blocks=[section("*SEV1*")]
    )
    ts = posted["ts"]
    assert posted["channel"] == INCIDENTS and posted["message"]["bot_id"] == workspace.bot_id
    assert posted["message"]["blocks"][0]["block_id"], "Slack fills in a block_id"

    updated = await slack_client.chat_update(channel=INCIDENTS, ts=ts, text="SEV1 resolved")
    assert updated["message"]["edited"]["user"] == workspace.bot_user_id
    assert workspace.messages(INCIDENTS)[-1].text == "SEV1 resolved"
    assert workspace.messages(INCIDENTS)[-1].blocks[0]["text"]["text"] == "*SEV1*", "blocks kept when omitted"

    await slack_client.pins_add(channel=INCIDENTS, timestamp=ts)
    assert (await slack_error(slack_client.pins_add(channel=INCIDENTS, timestamp=ts)))[
        "error"
    ] == "already_pinned"
    missing = await slack_error(slack_client.pins_add(channel=INCIDENTS, timestamp="1.000001"))
    assert missing["error"] == "message_not_found"
    assert workspace.channels[INCIDENTS].pins == {ts}

    link = await slack_client.chat_getPermalink(channel=INCIDENTS, message_ts=ts)
    assert link["permalink"] == f"https://sandbox.slack.local/archives/{INCIDENTS}/p{ts.replace('.', '')}"
    assert workspace.find_messages("resolved")[0].ts == ts
    assert [c.error for c in workspace.errors()] == ["already_pinned", "message_not_found"]


async def test_threads_history_and_timestamps(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    parent = (await slack_client.chat_postMessage(channel=INCIDENTS, text="parent"))["ts"]
    reply = (await slack_client.chat_postMessage(channel=INCIDENTS, text="reply", thread_ts=parent))["ts"]
    assert float(reply) > float(parent)
    history = await slack_client.conversations_history(channel=INCIDENTS)
    assert [m["text"] for m in history["messages"]] == ["parent"]
    assert history["messages"][0]["reply_count"] == 1
    replies = await slack_client.conversations_replies(channel=INCIDENTS, ts=reply)
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply"]
    orphan = await slack_error(
        slack_client.chat_postMessage(channel=INCIDENTS, text="x", thread_ts="1.000001")
    )
    assert orphan["error"] == "invalid_thread_ts"
    dm = await slack_client.conversations_open(users=ALICE)
    await slack_client.chat_postMessage(channel=dm["channel"]["id"], text="you are paged")
    assert workspace.dm_channel(ALICE, create=False).messages[0].text == "you are paged"  # type: ignore[union-attr]


async def test_channel_creation_rules(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    created = await slack_client.conversations_create(name="inc-42-db-down", is_private=False)
    channel = created["channel"]
    assert re.fullmatch(r"C[A-Z0-9]{9}", channel["id"])
    assert channel["creator"] == workspace.bot_user_id and channel["is_private"] is False
    assert workspace.bot_user_id in workspace.channels[channel["id"]].members
    assert (await slack_error(slack_client.conversations_create(name="inc-42-db-down")))[
        "error"
    ] == "name_taken"
    for name, error in [
        ("Inc 42", "invalid_name_specials"),
        ("inc.42", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("", "invalid_name_required"),
        ("---", "invalid_name_punctuation"),
    ]:
        assert (await slack_error(slack_client.conversations_create(name=name)))["error"] == error
    assert (await slack_client.conversations_create(name="x" * 80))["ok"]


async def test_invite_errors(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    channel = (await slack_client.conversations_create(name="inc-7"))["channel"]["id"]
    unknown = await slack_error(
        slack_client.conversations_invite(channel=channel, users=[ALICE, "U0NOBODY00"])
    )
    assert unknown["error"] == "user_not_found"
    assert unknown["errors"] == [{"user": "U0NOBODY00", "ok": False, "error": "user_not_found"}]
    assert ALICE not in workspace.channels[channel].members, "a failed invite invites nobody"
    assert (await slack_client.conversations_invite(channel=channel, users=f"{ALICE},{BOB}"))["ok"]
    again = await slack_error(slack_client.conversations_invite(channel=channel, users=ALICE))
    assert again["error"] == "already_in_channel"
    itself = await slack_error(
        slack_client.conversations_invite(channel=channel, users=workspace.bot_user_id)
    )
    assert itself["error"] == "cant_invite_self"
    gone = await slack_error(slack_client.conversations_invite(channel="C0NOTHERE0", users=ALICE))
    assert gone["error"] == "channel_not_found"


async def test_private_channel_the_bot_is_not_in(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    secret = workspace.add_channel("secret", is_private=True, members={ALICE})
    secret.members.discard(workspace.bot_user_id)
    posted = await slack_error(slack_client.chat_postMessage(channel=secret.id, text="hi"))
    assert posted["error"] == "not_in_channel"
    info = await slack_error(slack_client.conversations_info(channel=secret.id))
    assert info["error"] == "channel_not_found"


async def test_rate_limit_is_retried_by_slack_sdk(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    workspace.rate_limit_next("chat.postMessage", retry_after=0)
    posted = await slack_client.chat_postMessage(channel=INCIDENTS, text="eventually delivered")
    assert posted["ok"]
    calls = workspace.calls_to("chat.postMessage")
    assert [(c.status, c.error, c.injected) for c in calls] == [
        (429, "ratelimited", True),
        (200, None, False),
    ]
    assert len(workspace.messages(INCIDENTS)) == 1


async def test_rate_limit_headers(standin: RunningStandin, workspace: Workspace) -> None:
    workspace.rate_limit_next("conversations.create", retry_after=7)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin.api_url}conversations.create",
            json={"name": "inc-1"},
            headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        ) as response,
    ):
        assert response.status == 429
        assert response.headers["Retry-After"] == "7"
        assert await response.json() == {"ok": False, "error": "ratelimited"}


async def test_fail_next_with_predicate(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    workspace.fail_next(
        "chat.postMessage", "channel_not_found", when=lambda a: a.get("channel") == "C0MGMT0000"
    )
    assert (await slack_client.chat_postMessage(channel=INCIDENTS, text="fine"))["ok"]
    refused = await slack_error(slack_client.chat_postMessage(channel="C0MGMT0000", text="refused"))
    assert refused["error"] == "channel_not_found"
    assert (await slack_client.chat_postMessage(channel="C0MGMT0000", text="fine again"))["ok"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_invalid_blocks_are_refused_with_reasons(
    slack_client: AsyncWebClient, workspace: Workspace
) -> None:
    too_many = await slack_error(
        slack_client.chat_postMessage(
            channel=INCIDENTS, text="x", blocks=[section(str(i)) for i in range(51)]
        )
    )
    assert too_many["error"] == "invalid_blocks"
    assert "at most 50 blocks" in too_many["response_metadata"]["messages"][0]

    too_long = await slack_error(
        slack_client.chat_postMessage(channel=INCIDENTS, text="x", blocks=[section("a" * 3001)])
    )
    assert too_long["response_metadata"]["messages"] == [
        "must be at most 3000 characters (is 3001) [json-pointer:/blocks/0/text/text]"
    ]
    assert (await slack_error(slack_client.chat_postMessage(channel=INCIDENTS)))["error"] == "no_text"
    assert workspace.messages(INCIDENTS) == []
    assert [c.error for c in workspace.errors()] == ["invalid_blocks", "invalid_blocks", "no_text"]
    assert workspace.errors()[1].details


async def test_invalid_views_are_refused(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    long_title = await slack_error(
        slack_client.views_open(trigger_id=workspace.issue_trigger(ALICE), view=modal("x" * 25))
    )
    assert long_title["error"] == "invalid_arguments"
    assert "/view/title/text" in long_title["response_metadata"]["messages"][0]

    select = {"type": "static_select", "action_id": "sev", "options": [option(f"o{i}") for i in range(101)]}
    blocks = [{"type": "input", "block_id": "sev", "label": plain("Severity"), "element": select}]
    many = await slack_error(
        slack_client.views_open(trigger_id=workspace.issue_trigger(ALICE), view=modal(blocks=blocks))
    )
    assert "at most 100 options" in many["response_metadata"]["messages"][0]
    assert len(workspace.errors()) == 2


async def test_views_open_trigger_rules(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    trigger = workspace.issue_trigger(ALICE)
    opened = await slack_client.views_open(trigger_id=trigger, view=modal())
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"] and view["state"] == {"values": {}}
    assert workspace.views[view["id"]].user == ALICE
    reused = await slack_error(slack_client.views_open(trigger_id=trigger, view=modal()))
    assert reused["error"] == "exchanged_trigger_id"
    late = workspace.issue_trigger(ALICE)
    workspace.advance(3.5)
    assert (await slack_error(slack_client.views_open(trigger_id=late, view=modal())))[
        "error"
    ] == "expired_trigger_id"
    bogus = await slack_error(slack_client.views_open(trigger_id="123.456.abc", view=modal()))
    assert bogus["error"] == "invalid_trigger_id"


async def test_views_update_hash_and_push(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    view = (
        await slack_client.views_open(trigger_id=workspace.issue_trigger(ALICE), view=modal(external_id="e1"))
    )["view"]
    updated = await slack_client.views_update(view_id=view["id"], hash=view["hash"], view=modal("Step 2"))
    assert updated["view"]["id"] == view["id"] and updated["view"]["hash"] != view["hash"]
    stale = await slack_error(slack_client.views_update(view_id=view["id"], hash=view["hash"], view=modal()))
    assert stale["error"] == "hash_conflict"
    assert (await slack_client.views_update(external_id="e1", view=modal("Step 3")))["ok"]
    assert (await slack_error(slack_client.views_update(view_id="V0NOPE", view=modal())))[
        "error"
    ] == "not_found"
    pushed = await slack_client.views_push(trigger_id=workspace.issue_trigger(ALICE), view=modal("Details"))
    assert pushed["view"]["previous_view_id"] == view["id"]
    assert pushed["view"]["root_view_id"] == view["id"]


async def test_files_upload_v2_round_trip(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    result = await slack_client.files_upload_v2(
        channel=INCIDENTS, content="step 1 ok\nstep 2 failed", filename="runbook.log", title="Runbook output"
    )
    file_id = result["file"]["id"]
    stored = workspace.files[file_id]
    assert (stored.text, stored.title, stored.channels) == (
        "step 1 ok\nstep 2 failed",
        "Runbook output",
        [INCIDENTS],
    )
    shared = workspace.messages(INCIDENTS)[-1]
    assert shared.files[0]["id"] == file_id
    dump = json.loads(json.dumps(workspace.to_json()))
    assert dump["files"][0]["content"] == "step 1 ok\nstep 2 failed"


async def test_argument_styles_query_form_json(slack_client: AsyncWebClient, workspace: Workspace) -> None:
    blocks = [section("styled")]
    via_query = await slack_client.api_call(
        "chat.postMessage",
        http_verb="GET",
        params={"channel": INCIDENTS, "text": "q", "blocks": json.dumps(blocks)},
    )
    via_form = await slack_client.api_call(
        "chat.postMessage", data={"channel": INCIDENTS, "text": "f", "blocks": json.dumps(blocks)}
    )
    via_json = await slack_client.api_call(
        "chat.postMessage", json={"channel": INCIDENTS, "text": "j", "blocks": blocks}
    )
    mixed = await slack_client.api_call("chat.postMessage", params={"channel": INCIDENTS}, json={"text": "m"})
    assert all(r["ok"] for r in (via_query, via_form, via_json, mixed))
    messages = workspace.messages(INCIDENTS)
    assert [m.text for m in messages] == ["q", "f", "j", "m"]
    assert all(m.blocks[0]["text"]["text"] == "styled" for m in messages[:3])


async def test_auth_and_unknown_method(standin: RunningStandin, workspace: Workspace) -> None:
    async def call(method: str, headers: dict[str, str]) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{standin.api_url}{method}", headers=headers) as response,
        ):
            return dict(await response.json())

    assert (await call("auth.test", {}))["error"] == "not_authed"
    assert (await call("auth.test", {"Authorization": "Bearer xapp-1-nope"}))["error"] == "invalid_auth"
    assert (await call("chat.frobnicate", {"Authorization": f"Bearer {BOT_TOKEN}"}))[
        "error"
    ] == "unknown_method"
    ok = await call("auth.test", {"Authorization": f"Bearer {BOT_TOKEN}"})
    assert ok["user_id"] == workspace.bot_user_id and ok["bot_id"] == workspace.bot_id
    async with aiohttp.ClientSession() as session, session.get(f"{standin.url}_standin/state") as response:
        state = await response.json()
    assert [c["method"] for c in state["calls"]] == ["auth.test", "auth.test", "chat.frobnicate", "auth.test"]


async def test_response_url(standin: RunningStandin, workspace: Workspace) -> None:
    original = workspace.add_message(INCIDENTS, workspace.bot_user_id, "old", [section("old")])
    url = workspace.new_response_url(INCIDENTS, ALICE, message_ts=original.ts)
    async with aiohttp.ClientSession() as session:

        async def post(body: dict[str, Any]) -> int:
            async with session.post(url, json=body) as response:
                return response.status

        assert await post({"text": "only you", "response_type": "ephemeral"}) == 200
        assert await post({"text": "everyone", "response_type": "in_channel"}) == 200
        assert await post({"text": "new", "replace_original": True}) == 200
        assert await post({"text": "x", "blocks": [section("a" * 3001)]}) == 400
    assert [m.text for m in workspace.ephemerals_for(ALICE, INCIDENTS)] == ["only you"]
    assert [m.text for m in workspace.messages(INCIDENTS)] == ["new", "everyone"]
    assert [r.response_type for r in workspace.responses] == [
        "ephemeral",
        "in_channel",
        "ephemeral",
        "ephemeral",
    ]
    assert workspace.errors()[0].method == "response_url" and workspace.errors()[0].error == "invalid_blocks"


def test_blockkit_rules() -> None:
    assert validate_message("hi", [section("ok")]) == []
    assert validate_message("", None) == ["no_text: a message needs text, blocks or attachments"]
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "h"}}
    assert "must be plain_text" in validate_message("x", [header])[0]
    input_block = {"type": "input", "label": plain("L"), "element": {"type": "plain_text_input"}}
    assert "only allowed in modals" in validate_message("x", [input_block])[0]
    assert "unknown block type" in validate_message("x", [{"type": "carousel"}])[0]
    duplicate = [section("a", block_id="b"), section("b", block_id="b")]
    assert "duplicate block_id" in validate_message("x", duplicate)[0]
    button = {"type": "button", "text": plain("x" * 76), "action_id": "a", "value": "v" * 2001}
    assert len(validate_message("x", [{"type": "actions", "elements": [button]}])) == 2
    text_input = {"type": "plain_text_input", "action_id": "t", "max_length": 10, "initial_value": "x" * 11}
    view = modal(blocks=[{"type": "input", "block_id": "t", "label": plain("T"), "element": text_input}])
    assert "at most 10 characters" in validate_view(view)[0]
    no_submit = {k: v for k, v in view.items() if k != "submit"}
    assert any("/view/submit" in problem for problem in validate_view(no_submit))
    assert validate_view({**modal(), "private_metadata": "m" * 3001})


# -- driver against a real Bolt app ----------------------------------------------------------------


@dataclass
class EchoBot:
    """A minimal Bolt app that records what it receives and answers views with `view_ack`."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    view_ack: dict[str, Any] = field(default_factory=dict)

    def kinds(self) -> list[str]:
        return [body.get("type") or body.get("command", "") for body in self.received]


@pytest.fixture
async def echo_bot(standin: RunningStandin) -> AsyncIterator[EchoBot]:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=standin.api_url)
    app = AsyncApp(token=BOT_TOKEN, signing_secret=SIGNING_SECRET, client=client)
    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bot = EchoBot(url=f"http://127.0.0.1:{runner.addresses[0][1]}")

    @app.command("/incident")
    async def command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        bot.received.append(body)
        if body["text"] == "declare":
            await client.views_open(trigger_id=body["trigger_id"], view=modal())
            await ack()
        else:
            await ack(text=f"you said {body['text']}")

    @app.view(re.compile(".*"))
    async def view(ack: Any, body: dict[str, Any]) -> None:
        bot.received.append(body)
        await ack(**bot.view_ack)

    @app.action(re.compile(".*"))
    async def action(ack: Any, body: dict[str, Any]) -> None:
        bot.received.append(body)
        await ack()

    @app.shortcut("note")
    async def shortcut(ack: Any, body: dict[str, Any]) -> None:
        bot.received.append(body)
        await ack()

    @app.event("reaction_added")
    async def reaction(body: dict[str, Any]) -> None:
        bot.received.append(body)

    yield bot
    await runner.cleanup()
    if client.session is not None:
        await client.session.close()


@pytest.fixture
def driver(echo_bot: EchoBot, slack_driver: Callable[..., SlackDriver]) -> SlackDriver:
    return slack_driver(echo_bot.url)


def test_signature_matches_slack_sdk_verifier(workspace: Workspace) -> None:
    driver = SlackDriver("http://127.0.0.1:9", SIGNING_SECRET, workspace, "http://127.0.0.1:8")
    body = "token=x&text=declare%20db%20down"
    now = int(time.time())
    headers = driver.signed_headers(body)
    assert SignatureVerifier(SIGNING_SECRET).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert SignatureVerifier(SIGNING_SECRET).is_valid_request(body, headers)
    old = driver.signed_headers(body, timestamp=now - 600)
    assert not SignatureVerifier(SIGNING_SECRET).is_valid_request(body, old)


async def test_slash_opens_modal_and_bolt_verifies_signatures(
    driver: SlackDriver, echo_bot: EchoBot, workspace: Workspace
) -> None:
    response = await driver.slash(ALICE, INCIDENTS, "declare")
    assert response.status == 200 and response.payload and response.payload["trigger_id"]
    assert [v.user for v in workspace.open_views(ALICE)] == [ALICE]
    await driver.slash(ALICE, INCIDENTS, "status")
    assert [m.text for m in workspace.ephemerals_for(ALICE, INCIDENTS)] == ["you said status"]
    assert workspace.calls_to("auth.test")[0].ok

    body = b"command=%2Fincident&text=declare"
    tampered = await driver.raw(
        body + b"x", {**driver.signed_headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert tampered.status == 401
    replayed = await driver.slash(ALICE, INCIDENTS, "status", timestamp=int(time.time()) - 600)
    assert replayed.status == 401
    assert echo_bot.kinds() == ["/incident", "/incident"]
    assert workspace.errors()[-1].method == "ack.slash_command" and workspace.errors()[-1].error == "http_401"


ALL_ELEMENTS: list[dict[str, Any]] = [
    {
        "type": "input",
        "block_id": "title",
        "label": plain("Title"),
        "element": {"type": "plain_text_input", "action_id": "v", "initial_value": "DB down"},
    },
    {
        "type": "input",
        "block_id": "sev",
        "label": plain("Severity"),
        "element": {"type": "static_select", "action_id": "v", "options": [option("sev1"), option("sev2")]},
    },
    {
        "type": "input",
        "block_id": "audience",
        "label": plain("Audience"),
        "element": {
            "type": "radio_buttons",
            "action_id": "v",
            "options": [option("internal"), option("public")],
            "initial_option": option("internal"),
        },
    },
    {
        "type": "input",
        "block_id": "ic",
        "label": plain("IC"),
        "element": {"type": "users_select", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "team",
        "label": plain("Team"),
        "optional": True,
        "element": {"type": "multi_users_select", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "flags",
        "label": plain("Flags"),
        "optional": True,
        "element": {"type": "checkboxes", "action_id": "v", "options": [option("page"), option("status")]},
    },
    {
        "type": "input",
        "block_id": "day",
        "label": plain("Day"),
        "optional": True,
        "element": {"type": "datepicker", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "at",
        "label": plain("At"),
        "optional": True,
        "element": {"type": "timepicker", "action_id": "v"},
    },
    {
        "type": "input",
        "block_id": "impact",
        "label": plain("Users"),
        "optional": True,
        "element": {"type": "number_input", "action_id": "v", "is_decimal_allowed": False},
    },
    {
        "type": "input",
        "block_id": "where",
        "label": plain("Channel"),
        "optional": True,
        "element": {"type": "conversations_select", "action_id": "v"},
    },
    {
        "type": "actions",
        "block_id": "buttons",
        "elements": [
            {"type": "button", "action_id": "ack", "text": plain("Ack"), "value": "p1"},
            {"type": "button", "action_id": "ack", "text": plain("Ack"), "value": "p2"},
        ],
    },
]


async def test_submit_view_converts_values_by_element_type(
    driver: SlackDriver, echo_bot: EchoBot, workspace: Workspace
) -> None:
    assert validate_view(modal(blocks=ALL_ELEMENTS)) == []
    view = workspace.add_view(ALICE, modal(blocks=ALL_ELEMENTS, private_metadata='{"k": 1}'))
    await driver.submit_view(
        ALICE,
        view.id,
        {
            "sev": {"v": "sev1"},
            "ic": {"v": BOB},
            "team": {"v": [ALICE, BOB]},
            "flags": {"v": ["page"]},
            "day": {"v": "2025-11-22"},
            "at": {"v": "14:05"},
            "impact": {"v": 120},
            "where": "#incidents",
        },
    )
    submitted = echo_bot.received[-1]
    assert submitted["type"] == "view_submission" and submitted["view"]["private_metadata"] == '{"k": 1}'
    values = submitted["view"]["state"]["values"]
    assert values["title"]["v"] == {"type": "plain_text_input", "value": "DB down"}
    assert values["sev"]["v"]["selected_option"] == option("sev1")
    assert values["audience"]["v"]["selected_option"]["value"] == "internal"
    assert values["ic"]["v"]["selected_user"] == BOB
    assert values["team"]["v"]["selected_users"] == [ALICE, BOB]
    assert values["flags"]["v"]["selected_options"] == [option("page")]
    assert values["day"]["v"]["selected_date"] == "2025-11-22"
    assert values["at"]["v"]["selected_time"] == "14:05"
    assert values["impact"]["v"] == {"type": "number_input", "value": "120"}
    assert values["where"]["v"]["selected_conversation"] == INCIDENTS
    assert not workspace.views[view.id].is_open, "an empty ack closes the modal"

    second = workspace.add_view(ALICE, modal(blocks=ALL_ELEMENTS))
    with pytest.raises(ValueError, match="not an option"):
        await driver.submit_view(ALICE, second.id, {"sev": {"v": "sev9"}, "ic": {"v": BOB}})
    with pytest.raises(ValueError, match="required input 'Title'"):
        await driver.submit_view(
            ALICE, second.id, {"title": {"v": EMPTY}, "sev": {"v": "sev1"}, "ic": {"v": BOB}}
        )
    with pytest.raises(ValueError, match="no input block 'nope'"):
        await driver.submit_view(ALICE, second.id, {"nope": {"v": 1}})


async def test_submit_view_applies_response_actions(
    driver: SlackDriver, echo_bot: EchoBot, workspace: Workspace
) -> None:
    blocks = ALL_ELEMENTS[:1]
    view = workspace.add_view(ALICE, modal(blocks=blocks))
    echo_bot.view_ack = {"response_action": "errors", "errors": {"title": "Too vague"}}
    response = await driver.submit_view(ALICE, view.id, {"title": {"v": "it broke"}})
    assert response.view_errors == {"title": "Too vague"} and view.is_open
    assert view.state_values["title"]["v"]["value"] == "it broke", "Slack keeps what the user typed"

    old_hash = view.hash
    echo_bot.view_ack = {"response_action": "update", "view": modal("Confirm", blocks=[section("sure?")])}
    await driver.submit_view(ALICE, view.id)
    assert view.view["title"]["text"] == "Confirm" and view.hash != old_hash

    echo_bot.view_ack = {"response_action": "push", "view": modal("More", blocks=blocks)}
    await driver.submit_view(ALICE, view.id)
    top = workspace.open_views(ALICE)[-1]
    assert top.previous_view_id == view.id

    echo_bot.view_ack = {"response_action": "update", "view": modal("x" * 30)}
    await driver.submit_view(ALICE, top.id)
    assert workspace.errors()[-1].method == "ack.view_submission"
    assert workspace.errors()[-1].error == "invalid_arguments"

    echo_bot.view_ack = {"response_action": "clear"}
    await driver.submit_view(ALICE, top.id)
    assert workspace.open_views(ALICE) == []


async def test_click_uses_what_the_bot_rendered(
    driver: SlackDriver, echo_bot: EchoBot, workspace: Workspace
) -> None:
    message = workspace.add_message(INCIDENTS, workspace.bot_user_id, "paged", [ALL_ELEMENTS[-1]])
    with pytest.raises(ValueError, match="no action 'nack'"):
        await driver.click(BOB, "nack", channel_id=INCIDENTS, message_ts=message.ts)
    with pytest.raises(ValueError, match="pass value= or block_id="):
        await driver.click(BOB, "ack", channel_id=INCIDENTS, message_ts=message.ts)
    await driver.click(BOB, "ack", channel_id=INCIDENTS, message_ts=message.ts, value="p2")
    clicked = echo_bot.received[-1]
    assert clicked["type"] == "block_actions"
    assert clicked["actions"][0] | {"action_ts": "-"} == {
        "type": "button",
        "block_id": "buttons",
        "action_id": "ack",
        "text": plain("Ack"),
        "value": "p2",
        "action_ts": "-",
    }
    assert clicked["container"]["message_ts"] == message.ts and clicked["message"]["text"] == "paged"
    assert clicked["response_url"].startswith(workspace.base_url + "response/") and clicked["trigger_id"]

    view = workspace.add_view(ALICE, modal(blocks=ALL_ELEMENTS))
    await driver.click(ALICE, "v", view_id=view.id, block_id="sev", selected="sev2")
    picked = echo_bot.received[-1]
    assert picked["container"] == {"type": "view", "view_id": view.id}
    assert picked["actions"][0]["selected_option"] == option("sev2")


async def test_events_shortcuts_and_verification(
    driver: SlackDriver, echo_bot: EchoBot, workspace: Workspace
) -> None:
    message = workspace.add_message(INCIDENTS, BOB, "db is slow")
    response = await driver.reaction_added(ALICE, INCIDENTS, message.ts, retry_num=1, event_id="Ev0RETRY")
    assert response.status == 200
    assert message.reactions == {"pushpin": [ALICE]}
    event = await eventually(lambda: [b for b in echo_bot.received if b.get("type") == "event_callback"])
    assert event[0]["event_id"] == "Ev0RETRY" and event[0]["event"]["item"]["ts"] == message.ts

    await driver.message_shortcut(ALICE, INCIDENTS, message.ts, "note")
    assert echo_bot.received[-1]["type"] == "message_action"
    assert echo_bot.received[-1]["message"]["text"] == "db is slow"

    challenge = await driver.url_verification("chal-123")
    assert challenge.status == 200 and "chal-123" in challenge.body


async def test_eventually_reports_the_last_failure() -> None:
    assert await eventually(lambda: 42) == 42
    with pytest.raises(AssertionError, match="IndexError"):
        await eventually(lambda: [][0], timeout=0.05)
