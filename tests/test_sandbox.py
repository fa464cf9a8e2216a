"""The local sandbox: stand-in + real bot + the Slack-like page, driven through its JSON API and in Chromium.

The API tests start the sandbox in-process (fresh SQLite, the example config) and act as the page does;
every action reaches the bot as a signed Slack request through `SlackDriver`. The browser test runs a
whole incident in a real headless Chromium and can refresh the README's screenshot.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot import cli
from bot.config import Settings
from bot.domain import EventKind
from bot.sandbox import run as sandbox_run
from bot.sandbox.app import BOT_EVENTS, MESSAGE_SHORTCUTS, SLASH_COMMANDS
from bot.sandbox.inputs import REQUIRED
from bot.sandbox.run import RunningSandbox, SandboxError, check_host, choose_config, start_sandbox
from bot.standin import UploadedFile, eventually
from tests.fixtures_bot import ALICE, ANNOUNCEMENTS, BOB, CAROL, DAVE, EXAMPLE_CONFIG, GENERAL, ROOT
from tests.fixtures_browser import ThreadedSandbox
from tests.processes import free_port


def sandbox_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, config=tmp_path / "no-such-config.yml", **values)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(sandbox_settings(tmp_path), config_path=EXAMPLE_CONFIG, port=0)
    try:
        yield running
    finally:
        await running.close()


class Page:
    """Does what sandbox.js does: GET the state, POST JSON actions."""

    def __init__(self, sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
        self.sandbox, self.http = sandbox, http

    async def state(self, user: str = ALICE, channel: str | None = None, thread: str | None = None) -> Any:
        query = {
            "user": user,
            **({"channel": channel} if channel else {}),
            **({"thread": thread} if thread else {}),
        }
        async with self.http.get(f"{self.sandbox.base_url}/sandbox/api/state", params=query) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, user: str = ALICE, status: int = 200, **body: Any) -> Any:
        url = f"{self.sandbox.base_url}/sandbox/api/{path}"
        async with self.http.post(url, json={"user": user, **body}) as response:
            data = await response.json()
            assert response.status == status, data
            return data

    async def modal(self, user: str, callback_id: str, hash_not: str | None = None) -> dict[str, Any]:
        async def opened() -> dict[str, Any] | None:
            views = (await self.state(user))["views"]
            found = [v for v in views if v["callback_id"] == callback_id and v["hash"] != hash_not]
            return found[-1] if found else None

        return await eventually(opened, message=f"{callback_id} modal for {user}")


@pytest.fixture
async def page(sandbox: RunningSandbox) -> AsyncIterator[Page]:
    async with aiohttp.ClientSession() as http:
        yield Page(sandbox, http)


def _kinds(sandbox: RunningSandbox, incident_id: int) -> Any:
    async def kinds() -> list[EventKind]:
        return [e.kind for e in await sandbox.runtime.incidents.store.timeline(incident_id)]

    return kinds


# -- (a) the JSON API, without a browser -------------------------------------------------------------


async def test_page_is_local_and_says_so(sandbox: RunningSandbox, page: Page) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.url.endswith("/sandbox")
    assert sandbox.lines[-1] == f"Sandbox: {sandbox.url}"
    async with page.http.get(sandbox.url) as response:
        html = await response.text()
        assert response.status == 200
        assert "Local sandbox — not connected to Slack" in html
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for name in ("sandbox.js", "sandbox.css"):
        async with page.http.get(f"{sandbox.base_url}/sandbox/static/{name}") as response:
            assert response.status == 200 and len(await response.text()) > 1000
    async with page.http.get(f"{sandbox.base_url}/healthz") as response:
        assert (await response.json())["checks"]["slack"]["ok"] is True
    async with page.http.get(f"{sandbox.base_url}/metrics") as response:
        assert response.status == 200 and "incidentbot" in await response.text()
    with pytest.raises(SandboxError, match=r"127\.0\.0\.1 only"):
        check_host("0.0.0.0")
    with pytest.raises(SandboxError):
        await start_sandbox(Settings(_env_file=None), config_path=EXAMPLE_CONFIG, port=0, host="0.0.0.0")


async def test_other_sites_cannot_drive_it(sandbox: RunningSandbox, page: Page) -> None:
    url = f"{sandbox.base_url}/sandbox/api/message"
    body = {"user": ALICE, "channel": GENERAL, "text": "hi"}
    async with page.http.post(url, data=body) as response:  # a plain HTML form post
        assert response.status == 415
    async with page.http.post(url, json=body, headers={"Origin": "http://evil.example"}) as response:
        assert response.status == 403
    async with page.http.post(url, json=body, headers={"Host": "evil.example"}) as response:
        assert response.status == 403
    assert sandbox.workspace.messages(GENERAL) == []


async def test_each_user_sees_their_channels_and_only_their_ephemerals(
    sandbox: RunningSandbox, page: Page
) -> None:
    ws = sandbox.workspace
    secret = ws.add_channel("secret-war-room", is_private=True, members={BOB})
    ws.dm_channel(BOB)
    ws.add_ephemeral(GENERAL, BOB, "only for bob")
    alice, bob = await page.state(ALICE), await page.state(BOB, channel=GENERAL)
    names = {c["name"] for c in alice["channels"]}
    assert {"general", "incidents", "incident-management", "alerts"} <= names
    assert "secret-war-room" not in names and not [c for c in alice["channels"] if c["kind"] == "im"]
    assert {c["name"] for c in bob["channels"] if c["kind"] in ("private", "im")} == {
        "secret-war-room",
        "incidentbot",
    }
    assert alice["channel"]["name"] == "general" and alice["messages"] == []
    assert [(m["text"], m["ephemeral"]) for m in bob["messages"]] == [("only for bob", True)]
    # A channel the user cannot see falls back to #general instead of leaking.
    assert (await page.state(ALICE, channel=secret.id))["channel"]["id"] == GENERAL


async def test_whole_incident_through_the_api(sandbox: RunningSandbox, page: Page) -> None:
    ws = sandbox.workspace
    sent = await page.post("message", channel=GENERAL, text="/incident declare Checkout is down")
    assert sent == {"ok": True}
    declare = await page.modal(ALICE, "declare_incident")
    title = next(b for b in declare["blocks"] if b["block_id"] == "title")
    assert title["element"]["initial_value"] == "Checkout is down"

    values = {
        "title": {"value": ""},
        "severity": {"value": "SEV2"},
        "summary": {"value": "Customers cannot pay"},
        "service": {"value": "checkout"},
    }
    # Empty required field: Slack's client refuses, nothing reaches the bot.
    answer = await page.post("submit", view_id=declare["id"], values=values)
    assert answer == {"ok": True, "errors": {"title": REQUIRED}, "checked_by": "client"}
    # Blank but not empty: the bot answers `response_action: errors`, shown next to the field.
    answer = await page.post("submit", view_id=declare["id"], values={**values, "title": {"value": "   "}})
    assert answer["checked_by"] == "app" and "title is empty" in answer["errors"]["title"]
    assert ws.views[declare["id"]].is_open and await sandbox.runtime.incidents.list_open() == []

    answer = await page.post(
        "submit", view_id=declare["id"], values={**values, "title": {"value": "Checkout is down"}}
    )
    assert answer == {"ok": True, "errors": {}, "checked_by": "app"}
    incident = await eventually(lambda: _one_open(sandbox), timeout=10)
    state = await eventually(lambda: _channel_with_summary(page, ALICE, incident.channel_id), timeout=10)
    assert state["channel"]["name"].startswith("inc-") and state["channel"]["pins"] == 1
    summary = next(m for m in state["messages"] if m["pinned"])
    buttons = {e["action_id"] for b in summary["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert "incident_post_update" in buttons and "incident_resolve" in buttons
    assert incident.channel_id in {
        c["id"] for c in (await page.state(DAVE))["channels"]
    }  # checkout responder

    # Post update: a button click (block_actions), the form, the preview, then the post.
    await page.post(
        "action",
        channel=incident.channel_id,
        message_ts=summary["ts"],
        block_id=next(b["block_id"] for b in summary["blocks"] if b["type"] == "actions"),
        action_id="incident_post_update",
        value=next(
            e.get("value")
            for b in summary["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "incident_post_update"
        ),
    )
    update = await page.modal(ALICE, "post_update")
    update_values = {
        "status": {"value": "identified"},
        "known": {"value": "A bad deploy of payments-api broke card auth."},
        "doing": {"value": "Rolling back."},
        "next_update": {"value": "30"},
        "audiences": {"value": ["channel", "announcements"]},
    }
    bad = await page.post(
        "submit", view_id=update["id"], values={**update_values, "next_update": {"value": "x"}}
    )
    assert bad["checked_by"] == "client" and "not a number" in bad["errors"]["next_update"]
    assert (await page.post("submit", view_id=update["id"], values=update_values))["errors"] == {}
    preview = await page.modal(ALICE, "post_update", hash_not=update["hash"])
    assert preview["submit"]["text"] == "Post update"
    await page.post("submit", view_id=preview["id"], values=update_values)
    await eventually(lambda: ws.find_messages("bad deploy of payments-api"), timeout=10)

    # A plain message (the app does not listen to messages), then :pushpin: on it (it does: reaction_added).
    typed = await page.post(
        "message", user=CAROL, channel=incident.channel_id, text="Rollback <b>done</b> @dave"
    )
    message = ws.message(incident.channel_id, typed["ts"])
    assert message is not None and message.text == f"Rollback &lt;b&gt;done&lt;/b&gt; <@{DAVE}>"
    assert (await page.post("react", channel=incident.channel_id, ts=typed["ts"], reaction="pushpin"))["ok"]
    await eventually(lambda: _has(sandbox, incident.id, EventKind.MESSAGE_PINNED), timeout=10)
    seen = await page.state(ALICE, channel=incident.channel_id)
    pinned_message = next(m for m in seen["messages"] if m["ts"] == typed["ts"])
    assert pinned_message["reactions"] == [{"name": "pushpin", "count": 1, "users": [ALICE], "mine": True}]

    # A thread reply shows as a reply count and in the thread pane.
    await page.post("message", channel=incident.channel_id, text="Thanks!", thread_ts=typed["ts"])
    seen = await page.state(ALICE, channel=incident.channel_id, thread=typed["ts"])
    assert next(m for m in seen["messages"] if m["ts"] == typed["ts"])["reply_count"] == 1
    assert [m["text"] for m in seen["thread"]["messages"]][1:] == ["Thanks!"]

    # Resolve from the pinned summary.
    await page.post(
        "action",
        channel=incident.channel_id,
        message_ts=summary["ts"],
        action_id="incident_resolve",
        block_id=next(b["block_id"] for b in summary["blocks"] if b["type"] == "actions"),
    )
    resolve = await page.modal(ALICE, "resolve_incident")
    await page.post("submit", view_id=resolve["id"], values={"resolution": {"value": "Rolled back to v41."}})
    await eventually(lambda: _resolved(sandbox, incident.id), timeout=10)
    await eventually(lambda: ws.find_messages("Rolled back to v41"), timeout=10)
    assert ws.message(ANNOUNCEMENTS, incident.announcement_ts or "") is not None
    assert ws.errors() == [], [(c.method, c.error, c.details) for c in ws.errors()]


async def test_pages_arrive_as_dms_and_can_be_acknowledged(sandbox: RunningSandbox, page: Page) -> None:
    ws = sandbox.workspace
    channel = ws.add_channel("ops", members={ALICE, BOB})
    await page.post("message", channel=GENERAL, text="/incident declare Search is slow")
    declare = await page.modal(ALICE, "declare_incident")
    await page.post("submit", view_id=declare["id"], values={"severity": {"value": "SEV3"}})
    incident = await eventually(lambda: _one_open(sandbox), timeout=10)
    await eventually(lambda: ws.channels[incident.channel_id or ""].pins, timeout=10)
    # Page bob by hand from the incident channel; the page is a DM with Acknowledge / Escalate.
    assert (await page.post("message", channel=incident.channel_id, text="/incident page @bob"))["ok"]
    dm = await eventually(lambda: _dm_with_page(ws, BOB), timeout=10)
    state = await page.state(BOB, channel=dm)
    assert state["channel"]["kind"] == "im" and state["channel"]["name"] == "incidentbot"
    page_message = state["messages"][-1]
    ack = next(
        e
        for b in page_message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "page_ack"
    )
    assert await page.post(
        "action", user=BOB, channel=dm, message_ts=page_message["ts"], **_click(page_message, ack)
    )
    await eventually(lambda: _has(sandbox, incident.id, EventKind.PAGE_ACKED), timeout=10)
    # Alice cannot see Bob's DM, nor act in it.
    assert dm not in {c["id"] for c in (await page.state(ALICE))["channels"]}
    await page.post(
        "action", channel=dm, message_ts=page_message["ts"], status=400, **_click(page_message, ack)
    )
    assert channel.id in {c["id"] for c in (await page.state(BOB))["channels"]}


async def test_composer_refuses_unknown_commands_and_non_members(sandbox: RunningSandbox, page: Page) -> None:
    answer = await page.post("message", channel=GENERAL, text="/deploy now")
    assert answer["ok"] is False and "/deploy is not a valid command" in answer["error"]
    other = sandbox.workspace.add_channel("random", members={BOB})
    await page.post("message", channel=other.id, text="hello", status=409)
    assert (await page.post("join", channel=other.id))["ok"]
    assert (await page.post("message", channel=other.id, text="hello"))["ok"]
    assert [m.subtype for m in sandbox.workspace.messages(other.id)] == ["channel_join", None]


async def test_message_shortcut_opens_the_declare_form(sandbox: RunningSandbox, page: Page) -> None:
    said = await page.post("message", user=BOB, channel=GENERAL, text="Payments API returns 502s")
    await page.post("shortcut", channel=GENERAL, ts=said["ts"], callback_id="declare_incident_from_message")
    view = await page.modal(ALICE, "declare_incident")
    summary = next(b for b in view["blocks"] if b["block_id"] == "summary")
    assert summary["element"]["initial_value"] == "Payments API returns 502s"
    await page.post("close", view_id=view["id"])
    assert not sandbox.workspace.views[view["id"]].is_open


async def test_files_are_served_as_plain_text(sandbox: RunningSandbox, page: Page) -> None:
    ws = sandbox.workspace
    ws.files["F0TESTFILE1"] = UploadedFile(
        "F0TESTFILE1", "postmortem.md", 20, ws.bot_user_id, 0, content=b"<script>x</script>"
    )
    async with page.http.get(f"{sandbox.base_url}/sandbox/api/files/F0TESTFILE1") as response:
        assert response.status == 200 and response.content_type == "text/plain"
        assert await response.text() == "<script>x</script>"
        assert response.headers["Content-Security-Policy"].startswith("sandbox")


def test_the_sandbox_plays_the_apps_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    features = manifest["features"]
    assert set(SLASH_COMMANDS) == {c["command"] for c in features["slash_commands"]}
    assert set(MESSAGE_SHORTCUTS) == {
        (s["callback_id"], s["name"]) for s in features["shortcuts"] if s["type"] == "message"
    }
    assert set(BOT_EVENTS) == set(manifest["settings"]["event_subscriptions"]["bot_events"])


# -- configuration -----------------------------------------------------------------------------------


def test_config_choice_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "own.yml"
    own.write_text("timezone: UTC\n", encoding="utf-8")
    assert choose_config(own, sandbox_settings(tmp_path)).source == f"{own} (--config)"
    with pytest.raises(SandboxError, match="no such file"):
        choose_config(tmp_path / "nope.yml", sandbox_settings(tmp_path))
    env = Settings(_env_file=None, config=own)
    assert choose_config(None, env).source == f"{own} (INCIDENTBOT_CONFIG)"
    assert choose_config(None, sandbox_settings(tmp_path)).path == EXAMPLE_CONFIG  # a checkout
    monkeypatch.setattr(sandbox_run, "checkout_example", lambda: None)
    defaults = choose_config(None, sandbox_settings(tmp_path))
    assert defaults.source.startswith("built-in defaults")
    assert defaults.config.channels.announcements == ANNOUNCEMENTS
    assert defaults.config.oncall.escalation["SEV1"]


async def test_own_config_gets_its_people_and_channels(tmp_path: Path) -> None:
    own = tmp_path / "team.yml"
    own.write_text(
        yaml.safe_dump(
            {
                "severities": [
                    {
                        "id": "P1",
                        "name": "Everything is on fire",
                        "description": "All hands",
                        "response_target": "5m",
                    },
                    {"id": "P2", "name": "Smouldering", "description": "Some smoke", "response_target": "1h"},
                ],
                "channels": {"announcements": "C0TEAMANN1", "management": "C0TEAMMGT1"},
                "responders": ["U0TEAMSRE1"],
                "paging": {"pagerduty": {}},
            }
        ),
        encoding="utf-8",
    )
    running = await start_sandbox(sandbox_settings(tmp_path), config_path=own, port=0)
    try:
        ws = running.workspace
        assert ws.channels["C0TEAMANN1"].name == "announcements" and "U0TEAMSRE1" in ws.users
        assert any("off in the sandbox" in line for line in running.lines)
        assert running.runtime.paging.providers == []
        assert running.runtime.config.postmortems.directory == running.temp_dir / "postmortems"
        async with aiohttp.ClientSession() as http:
            page = Page(running, http)
            await page.post("message", channel=GENERAL, text="/incident declare Fire")
            view = await page.modal(ALICE, "declare_incident")
        severity = next(b for b in view["blocks"] if b["block_id"] == "severity")
        assert [o["value"] for o in severity["element"]["options"]] == ["P1", "P2"]
        temp_dir = running.temp_dir
    finally:
        await running.close()
    assert temp_dir is not None and not temp_dir.exists()


def test_cli_sandbox_with_a_missing_config_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.run(["sandbox", "--config", "nope.yml", "--port", "0"]) == 2
    assert "nope.yml: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["serve", "sandbox"])
async def test_cli_without_a_token_serves_the_sandbox(tmp_path: Path, command: str) -> None:
    """`make run` with no Slack app: says which variables would connect Slack, then serves the sandbox."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "INCIDENTBOT_PORT": str(port),
        "INCIDENTBOT_HOST": "0.0.0.0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from bot.cli import main; sys.argv[0] = 'incidentbot'; main()",
        command,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("Sandbox: "):
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, f"exited early: {lines}"
            lines.append(line.decode().strip())
        assert lines[-1] == f"Sandbox: http://127.0.0.1:{port}/sandbox"
        assert any(line.startswith("Database: a fresh SQLite file") for line in lines)
        assert any(line.startswith("Config: ") and "examples/incidentbot.yml" in line for line in lines)
        assert any("INCIDENTBOT_HOST=0.0.0.0 is ignored" in line for line in lines)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    text = stderr.decode()
    assert process.returncode == 0, text
    assert "Traceback" not in text
    if command == "serve":
        assert "No SLACK_BOT_TOKEN: starting the local sandbox" in text
        assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)" in text
    temp = next(line for line in lines if line.startswith("Post-mortems: ")).split()[3]
    assert not Path(temp).parent.exists()  # the per-run directory is gone


def test_serve_without_a_token_can_still_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """INCIDENTBOT_SANDBOX=off (the Docker image): no sandbox, exit 2, and the message names the variables."""
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INCIDENTBOT_SANDBOX", "off")
    assert cli.run(["serve"]) == 2
    err = capsys.readouterr().err
    assert "needs a Slack app" in err
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)" in err


def test_readme_opens_with_the_screenshot() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:20])
    assert "](docs/sandbox.png)" in first_screen and "make run" in first_screen
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")


# -- helpers -----------------------------------------------------------------------------------------


async def _one_open(sandbox: RunningSandbox) -> Any:
    incidents = await sandbox.runtime.incidents.list_open()
    found = [i for i in incidents if i.channel_id and i.summary_ts and i.announcement_ts]
    return found[0] if len(found) == 1 else None


async def _channel_with_summary(page: Page, user: str, channel: str | None) -> Any:
    state = await page.state(user, channel=channel)
    if state["channel"]["id"] == channel and any(m["pinned"] for m in state["messages"]):
        return state
    return None


async def _has(sandbox: RunningSandbox, incident_id: int, kind: EventKind) -> bool:
    return kind in await _kinds(sandbox, incident_id)()


def _pinned_buttons(sb: ThreadedSandbox, ws: Any) -> list[dict[str, Any]]:
    def buttons() -> list[dict[str, Any]]:
        channel = next(c for c in ws.channels.values() if c.name.startswith("inc-"))
        summary = next(m for m in channel.messages if "incident_reopen" in str(m.blocks))
        return [e for b in summary.blocks if b["type"] == "actions" for e in b["elements"]]

    return sb.read(buttons)


async def _resolved(sandbox: RunningSandbox, incident_id: int) -> bool:
    return (await sandbox.runtime.incidents.get(incident_id)).status == "resolved"


def _dm_with_page(ws: Any, user: str) -> str | None:
    dm = ws.dm_channel(user, create=False)
    return dm.id if dm is not None and dm.messages else None


def _paged_user(ws: Any) -> str | None:
    """The person the escalation policy paged: the one whose DM with the bot holds an Acknowledge button."""
    for channel in ws.channels.values():
        if channel.is_im and any("page_ack" in str(m.blocks) for m in channel.messages):
            return str(channel.dm_user)
    return None


def _click(message: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    block = next(b for b in message["blocks"] if element in b.get("elements", []))
    return {"block_id": block["block_id"], "action_id": element["action_id"], "value": element.get("value")}


# -- (b) a real headless Chromium --------------------------------------------------------------------

SCREENSHOT = ROOT / "docs" / "sandbox.png"
UPDATE_SCREENSHOT = os.environ.get("INCIDENTBOT_UPDATE_SCREENSHOT", "").lower() in {"1", "true", "yes"}
BROWSER_BUDGET = 30.0


class Browser:
    """Small Selenium helpers in the page's own terms (composer, modal, sidebar, messages)."""

    def __init__(self, driver: Any, sandbox: ThreadedSandbox) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.sandbox = driver, sandbox
        self._wait = WebDriverWait(driver, 10, poll_frequency=0.05)
        # The browser is shared by the module's tests, which run in any order: start this page's console
        # log empty, so `problems()` reports what this test's page did, not what an earlier test loaded.
        driver.get_log("browser")

    def find(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def until(self, predicate: Any, what: str) -> Any:
        def check(_: Any) -> Any:
            try:
                return predicate()
            except Exception:  # the page re-rendered under us: try again
                return None

        return self._wait.until(check, what)

    def shown(self, selector: str) -> Any:
        return self.until(lambda: next((e for e in self.all(selector) if e.is_displayed()), None), selector)

    def click(self, selector: str) -> None:
        """Click the first visible match, finding it again if a re-render replaced it meanwhile."""

        def clicked() -> bool:
            self.shown(selector).click()
            return True

        self.until(clicked, f"click {selector}")

    def text(self, selector: str) -> str:
        return str(self.until(lambda: self.find(selector).text, selector))

    def type(self, element: Any, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(Keys.BACKSPACE)
        if text:
            element.send_keys(text)

    def say(self, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        box = self.find("#composer-input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        self.until(lambda: box.get_attribute("value") == "", f"composer sent {text!r}")

    def pick(self, selector: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(selector)).select_by_value(value)

    def modal(self, callback_id: str, hash_not: str | None = None) -> Any:
        def opened() -> Any:
            modal = self.find(f'.modal[data-callback-id="{callback_id}"]')
            return modal if modal.get_attribute("data-hash") != hash_not else None

        return self.until(opened, f"the {callback_id} modal")

    def submit(self) -> None:
        self.find('.modal [data-role="submit"]').click()

    def error(self, block_id: str) -> str:
        return self.shown(f'.bk-error[data-block-id="{block_id}"]').text

    def open_channel(self, prefix: str) -> None:
        self.click(f'#sidebar li[data-name^="{prefix}"]')
        self.until(lambda: self.find("#channel-title").text.lstrip("#🔒 ").startswith(prefix), prefix)

    def as_user(self, user_id: str) -> None:
        self.pick("#user-switcher", user_id)
        self.until(lambda: self.find("body").get_attribute("data-me") == user_id, f"acting as {user_id}")

    def react(self, text: str, reaction: str) -> None:
        """Hover the message, click the reaction in its toolbar, wait for the reaction to show."""
        from selenium.webdriver.common.action_chains import ActionChains

        def reacted() -> bool:
            message = self.message(text)
            ActionChains(self.driver).move_to_element(message).perform()
            message.find_element("css selector", f'[data-tool="react"][data-reaction="{reaction}"]').click()
            return True

        self.until(reacted, f":{reaction}: on {text!r}")
        self.until(
            lambda: self.message(text).find_element("css selector", f'.reaction[data-reaction="{reaction}"]'),
            f"the :{reaction}: reaction on {text!r}",
        )

    def message(self, text: str) -> Any:
        return self.until(lambda: next((m for m in self.all("#messages .msg") if text in m.text), None), text)

    def problems(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture
def threaded_sandbox(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    running = ThreadedSandbox(sandbox_settings(tmp_path), config_path=EXAMPLE_CONFIG)
    try:
        yield running
    finally:
        running.close()


@pytest.mark.browser
def test_whole_incident_in_chromium(chrome: Any, threaded_sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    """Declare through the composer, fill and submit the modal (with an inline error first), see the
    channel and its pinned summary, post an update, pin a message, hand over the IC role, acknowledge the
    page as the paged user, resolve."""
    started = time.monotonic()
    sb, ws = threaded_sandbox, threaded_sandbox.sandbox.workspace
    page = Browser(chrome, sb)
    chrome.get(sb.sandbox.url)
    page.shown('#channel-list li[data-name="general"]')
    assert page.find("#sandbox-banner").text == "Local sandbox — not connected to Slack"
    assert page.find("#user-switcher").get_attribute("value") == ALICE

    # Declare: the composer sends a signed slash command; the bot opens its modal.
    page.say("/incident declare Checkout is down")
    declare = page.modal("declare_incident").get_attribute("data-view-id")
    title = page.find('.bk-input[data-block-id="title"] input')
    assert title.get_attribute("value") == "Checkout is down"
    page.type(title, "")
    page.submit()
    assert page.error("title") == REQUIRED  # Slack's client checks
    assert page.error("severity") == REQUIRED
    page.pick('.bk-input[data-block-id="severity"] select', "SEV2")
    page.type(title, "   ")
    page.submit()
    page.until(
        lambda: "title is empty" in page.error("title"), "the bot's inline error"
    )  # response_action: errors
    assert "has-error" in page.find('.bk-input[data-block-id="title"]').get_attribute("class")
    page.type(title, "Checkout is down")
    page.pick('.bk-input[data-block-id="service"] select', "checkout")
    page.type(page.find('.bk-input[data-block-id="summary"] textarea'), "Customers cannot pay by card.")
    page.submit()
    page.until(lambda: page.find(".modal-title").text == "Incident declared", "the declared modal")
    link = page.text(".modal a.channel-link")
    assert link.startswith("#inc-") and link.endswith("-checkout-is-down")
    page.click('.modal [data-role="close"]')
    page.until(lambda: not page.all(".modal"), "the modal closed")
    assert declare not in sb.read(lambda: [v.id for v in ws.open_views(ALICE)])

    # Where it was declared, everyone sees that it was, and where to go.
    notice = page.message("Join the channel")
    assert "Checkout is down" in notice.text and "declared INC-1" in notice.text

    # The new channel, with the pinned live summary.
    page.open_channel("inc-")
    summary = page.text("#messages .msg.pinned")
    assert "Pinned" in summary and "Checkout is down" in summary and "SEV2" in summary
    assert page.text("#channel-meta [data-pins]") == "📌 1 pinned"

    # The welcome message: the severity's checklist, one tick per item, and the matching runbooks.
    welcome = page.message("the first five minutes")
    assert "(0/4 done)" in welcome.text and "Open" in welcome.text
    page.click('#messages [data-action-id="checklist_tick"]')
    page.until(lambda: "(1/4 done)" in page.message("the first five minutes").text, "the ticked item")

    # Post update: button (block_actions) → form → preview (views.update) → post.
    page.click('#messages .msg.pinned [data-action-id="incident_post_update"]')
    form = page.modal("post_update").get_attribute("data-hash")
    page.pick('.bk-input[data-block-id="status"] select', "identified")
    page.type(
        page.find('.bk-input[data-block-id="known"] textarea'),
        "A bad deploy of payments-api broke card auth.",
    )
    page.type(page.find('.bk-input[data-block-id="doing"] textarea'), "Rolling back to v41.")
    page.submit()
    page.modal("post_update", hash_not=form)
    assert page.text('.modal [data-role="submit"]') == "Post update"
    page.submit()
    page.until(lambda: not page.all(".modal"), "the update modal closed")
    page.message("A bad deploy of payments-api broke card auth.")

    # A message, then :pushpin: on it: the reaction_added event puts it on the timeline.
    page.say("Rollback finished, error rate back under 1% https://grafana.example.org/d/checkout")
    page.react("Rollback finished", "pushpin")
    incident = sb.call(_one_open(sb.sandbox))
    sb.call(eventually(lambda: _has(sb.sandbox, incident.id, EventKind.MESSAGE_PINNED), timeout=10))

    # The screenshot for the README: the incident channel, summary on top, no hover toolbar.
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(chrome).move_to_element(page.find("#team-name")).perform()
    chrome.execute_script("arguments[0].scrollIntoView()", page.find("#messages .msg.pinned"))
    shot = tmp_path / "sandbox.png"
    chrome.save_screenshot(str(shot))
    if UPDATE_SCREENSHOT:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    # IC hand-off by command; the summary is edited in place.
    page.say("/incident assign ic @bob")
    page.until(lambda: "Incident Commander\n@bob" in page.text("#messages .msg.pinned"), "IC is @bob")

    # The paged on-call person acknowledges in their DM with the bot.
    paged = sb.call(eventually(lambda: _paged_user(ws), timeout=10))
    page.as_user(paged)
    page.click('#dm-list li[data-name="incidentbot"]')
    page.click('#messages [data-action-id="page_ack"]')
    sb.call(eventually(lambda: _has(sb.sandbox, incident.id, EventKind.PAGE_ACKED), timeout=10))

    # The new IC resolves from the pinned summary.
    page.as_user(BOB)
    page.open_channel("inc-")
    page.click('#messages .msg.pinned [data-action-id="incident_resolve"]')
    page.modal("resolve_incident")
    page.type(page.find('.bk-input[data-block-id="resolution"] textarea'), "Rolled back payments-api to v41.")
    page.type(page.find('.bk-input[data-block-id="followup"] input'), "Alert on missing headers")
    page.pick('.bk-input[data-block-id="followup_owner"] select', "U0CAROL000")
    page.click('.bk-input[data-block-id="postmortem"] input[value="yes"]')
    page.submit()
    page.until(lambda: "Resolved" in page.text("#messages .msg.pinned"), "the summary says Resolved")
    page.message("Rolled back payments-api to v41.")
    page.message("recorded action item #1 for @carol: Alert on missing headers")
    page.message(f"recorded action item #2: Write and publish the post-mortem of INC-{incident.id}")
    sb.call(eventually(lambda: _resolved(sb.sandbox, incident.id), timeout=10))
    assert [e["text"]["text"] for e in _pinned_buttons(sb, ws)] == ["Reopen"]  # resolved means resolved

    errors = sb.read(ws.errors)
    assert errors == [], [(c.method, c.error, c.details) for c in errors]
    assert page.problems() == []
    elapsed = time.monotonic() - started
    print(f"browser incident took {elapsed:.1f} s")
    assert elapsed < BROWSER_BUDGET


KITCHEN_SINK = {
    "type": "modal",
    "callback_id": "sandbox_kitchen_sink",
    "title": {"type": "plain_text", "text": "Every input"},
    "submit": {"type": "plain_text", "text": "Send"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": ":rotating_light: Header"}},
        {
            "type": "input",
            "block_id": "line",
            "label": {"type": "plain_text", "text": "Line"},
            "element": {"type": "plain_text_input", "action_id": "v", "max_length": 20},
        },
        {
            "type": "input",
            "block_id": "text",
            "label": {"type": "plain_text", "text": "Text"},
            "element": {"type": "plain_text_input", "action_id": "v", "multiline": True},
            "optional": True,
        },
        {
            "type": "input",
            "block_id": "count",
            "label": {"type": "plain_text", "text": "Count"},
            "element": {
                "type": "number_input",
                "action_id": "v",
                "is_decimal_allowed": False,
                "max_value": "99",
            },
        },
        {
            "type": "input",
            "block_id": "pick",
            "label": {"type": "plain_text", "text": "Pick"},
            "element": {
                "type": "static_select",
                "action_id": "v",
                "options": [
                    {"text": {"type": "plain_text", "text": "One"}, "value": "one"},
                    {"text": {"type": "plain_text", "text": "Two"}, "value": "two"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "many",
            "label": {"type": "plain_text", "text": "Many"},
            "optional": True,
            "element": {
                "type": "multi_static_select",
                "action_id": "v",
                "options": [
                    {"text": {"type": "plain_text", "text": "A"}, "value": "a"},
                    {"text": {"type": "plain_text", "text": "B"}, "value": "b"},
                    {"text": {"type": "plain_text", "text": "C"}, "value": "c"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "who",
            "label": {"type": "plain_text", "text": "Who"},
            "element": {"type": "users_select", "action_id": "v"},
        },
        {
            "type": "input",
            "block_id": "where",
            "label": {"type": "plain_text", "text": "Where"},
            "optional": True,
            "element": {"type": "conversations_select", "action_id": "v"},
        },
        {
            "type": "input",
            "block_id": "checks",
            "label": {"type": "plain_text", "text": "Checks"},
            "element": {
                "type": "checkboxes",
                "action_id": "v",
                "options": [
                    {"text": {"type": "mrkdwn", "text": "*first*"}, "value": "1"},
                    {
                        "text": {"type": "plain_text", "text": "second"},
                        "value": "2",
                        "description": {"type": "plain_text", "text": "with a description"},
                    },
                ],
            },
        },
        {
            "type": "input",
            "block_id": "radio",
            "label": {"type": "plain_text", "text": "Radio"},
            "element": {
                "type": "radio_buttons",
                "action_id": "v",
                "options": [
                    {"text": {"type": "plain_text", "text": "Left"}, "value": "left"},
                    {"text": {"type": "plain_text", "text": "Right"}, "value": "right"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "day",
            "label": {"type": "plain_text", "text": "Day"},
            "element": {"type": "datepicker", "action_id": "v"},
        },
        {
            "type": "input",
            "block_id": "at",
            "label": {"type": "plain_text", "text": "At"},
            "optional": True,
            "element": {"type": "timepicker", "action_id": "v"},
        },
        {
            "type": "input",
            "block_id": "when",
            "label": {"type": "plain_text", "text": "When"},
            "element": {"type": "datetimepicker", "action_id": "v"},
            "hint": {"type": "plain_text", "text": "Local time"},
        },
    ],
}

UNTRUSTED = (
    "*bold* _italic_ ~strike~ `code` <https://example.org/a?b=1&amp;c=2|a link> "
    "<javascript:alert(1)|bad link> "
    "<@U0BOB00000> <#C0GENERAL0> <!here> :rotating_light: &lt;img src=x onerror=alert(1)&gt;\n"
    "&gt; a quote\n```a code block```"
)


@pytest.mark.browser
def test_block_kit_and_every_input_kind_in_chromium(chrome: Any, threaded_sandbox: ThreadedSandbox) -> None:
    """Blocks render safely; each input kind sends the state Slack would; confirm dialogs stop clicks."""
    from selenium.webdriver.common.by import By

    sb, ws = threaded_sandbox, threaded_sandbox.sandbox.workspace
    page = Browser(chrome, sb)
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Header :pager:"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": UNTRUSTED}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*Field*\nvalue"}, {"type": "plain_text", "text": "Plain"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "context :warning:"}]},
        {"type": "divider"},
        {"type": "image", "image_url": "https://example.org/graph.png", "alt_text": "a graph"},
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "not an image"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "danger_button",
                    "text": {"type": "plain_text", "text": "Delete"},
                    "style": "danger",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Sure?"},
                        "text": {"type": "mrkdwn", "text": "This *cannot* be undone."},
                        "confirm": {"type": "plain_text", "text": "Delete"},
                        "deny": {"type": "plain_text", "text": "Keep it"},
                        "style": "danger",
                    },
                },
                {"type": "users_select", "action_id": "someone"},
            ],
        },
    ]
    sb.read(lambda: ws.add_message(GENERAL, ws.bot_user_id, "fallback", blocks))
    chrome.get(sb.sandbox.url)
    message = page.message("Header")
    section = message.find_element(By.CSS_SELECTOR, '[data-type="section"] .msg-text')
    tags = {
        e.tag_name: e.text for e in section.find_elements(By.CSS_SELECTOR, "b, i, s, code, pre, blockquote")
    }
    assert tags == {
        "b": "bold",
        "i": "italic",
        "s": "strike",
        "code": "code",
        "pre": "a code block",
        "blockquote": "a quote",
    }
    links = section.find_elements(By.CSS_SELECTOR, "a[href]")
    assert [(a.text, a.get_attribute("href")) for a in links if not a.get_attribute("data-channel")] == [
        ("a link", "https://example.org/a?b=1&c=2")
    ]
    text = section.text
    assert "bad link" in text and "@bob" in text and "#general" in text and "@here" in text and "🚨" in text
    assert "<img src=x onerror=alert(1)>" in text and not message.find_elements(
        By.CSS_SELECTOR, "img[src='x']"
    )
    images = message.find_elements(By.CSS_SELECTOR, "img")
    assert [i.get_attribute("src") for i in images] == ["https://example.org/graph.png"]
    assert "not an image" in message.text
    # A confirm dialog guards the click; "Keep it" sends nothing.
    calls = sb.read(lambda: len(ws.calls))
    message.find_element(By.CSS_SELECTOR, '[data-action-id="danger_button"]').click()
    dialog = page.shown('.dialog[data-kind="confirm"]')
    assert "Sure?" in dialog.text and "cannot" in dialog.find_element(By.CSS_SELECTOR, "b").text
    dialog.find_element(By.CSS_SELECTOR, '[data-role="deny"]').click()
    page.until(lambda: not page.all(".dialog"), "the dialog closed")
    assert sb.read(lambda: len(ws.calls)) == calls
    # A pick in a message's users_select is a block_actions delivery; nobody handles this one, so the bot
    # answers 404 and the page says what Slack says.
    page.pick('#messages [data-action-id="someone"]', BOB)
    page.until(lambda: "dispatch_failed" in page.text("#toast"), "the dispatch_failed notice")

    # Threads, ephemeral messages and files.
    def extras() -> None:
        parent = ws.add_message(GENERAL, CAROL, "Is checkout down for everyone?")
        ws.add_message(GENERAL, DAVE, "Only for card payments.", thread_ts=parent.ts)
        ws.add_ephemeral(GENERAL, ALICE, "Only Alice sees this.")
        ws.files["F0POSTMORT1"] = UploadedFile(
            "F0POSTMORT1",
            "inc-1-postmortem.md",
            12,
            ws.bot_user_id,
            0,
            title="Post-mortem",
            content=b"# INC-1",
        )
        ws.add_message(GENERAL, ws.bot_user_id, "The post-mortem", files=[ws.files["F0POSTMORT1"].to_api(ws)])

    sb.read(extras)
    assert "Only visible to you" in page.message("Only Alice sees this.").text
    file_link = page.until(lambda: page.find('#messages a.file[data-file-id="F0POSTMORT1"]'), "the file")
    assert (
        file_link.get_attribute("href").endswith("/sandbox/api/files/F0POSTMORT1")
        and "Post-mortem" in file_link.text
    )
    page.click("#messages .thread-link")
    page.until(lambda: "Only for card payments." in page.text("#thread-messages"), "the thread pane")
    assert "1 reply" in page.text("#thread-messages")
    page.click("#thread-close")

    # A modal with every input kind: empty required fields are marked, then the state is Slack's.
    view = sb.read(lambda: ws.add_view(ALICE, KITCHEN_SINK))
    page.modal("sandbox_kitchen_sink")
    page.submit()
    for block_id in ("line", "count", "pick", "who", "checks", "radio", "day", "when"):
        assert page.error(block_id) == REQUIRED, block_id
    assert not page.all('.bk-error[data-block-id="text"]:not([hidden])')

    def set_value(block_id: str, value: str) -> None:
        element = page.find(f'.bk-input[data-block-id="{block_id}"] input')
        chrome.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
            element,
            value,
        )

    page.type(page.find('.bk-input[data-block-id="line"] input'), "one line")
    page.type(page.find('.bk-input[data-block-id="text"] textarea'), "two\nlines")
    page.type(page.find('.bk-input[data-block-id="count"] input'), "4.5")
    page.pick('.bk-input[data-block-id="pick"] select', "two")
    from selenium.webdriver.support.ui import Select

    many = Select(page.find('.bk-input[data-block-id="many"] select'))
    many.select_by_value("a")
    many.select_by_value("c")
    page.pick('.bk-input[data-block-id="who"] select', BOB)
    page.pick('.bk-input[data-block-id="where"] select', GENERAL)
    for box in page.all('.bk-input[data-block-id="checks"] input'):
        box.click()
    page.all('.bk-input[data-block-id="radio"] input')[1].click()
    set_value("day", "2026-12-24")
    set_value("at", "09:30")
    set_value("when", "2026-12-24T09:30")
    epoch = chrome.execute_script("return Math.floor(new Date('2026-12-24T09:30').getTime() / 1000)")
    page.submit()
    page.until(lambda: page.error("count") == "decimals are not allowed", "the number check")
    page.type(page.find('.bk-input[data-block-id="count"] input'), "42")
    page.submit()
    # Nobody answers this view's callback_id, but the submission carried what the page holds:
    state = page.until(lambda: sb.read(lambda: ws.views[view.id].state_values or None), "a submission")
    simple = {block: next(iter(entry.values())) for block, entry in state.items()}
    assert simple["line"]["value"] == "one line" and simple["text"]["value"] == "two\nlines"
    assert simple["count"]["value"] == "42"
    assert simple["pick"]["selected_option"]["value"] == "two"
    assert [o["value"] for o in simple["many"]["selected_options"]] == ["a", "c"]
    assert simple["who"]["selected_user"] == BOB and simple["where"]["selected_conversation"] == GENERAL
    assert [o["value"] for o in simple["checks"]["selected_options"]] == ["1", "2"]
    assert simple["radio"]["selected_option"]["value"] == "right"
    assert simple["day"]["selected_date"] == "2026-12-24" and simple["at"]["selected_time"] == "09:30"
    assert simple["when"]["selected_date_time"] == epoch


@pytest.mark.browser
def test_a_drill_in_chromium(chrome: Any, threaded_sandbox: ThreadedSandbox) -> None:
    """`/incident drill db-down @bob` typed in #general: the drill's channel, its banner on every message,
    the first inject (the PostgresDown alert), then `/incident drill stop` and the scorecard."""
    sb, ws = threaded_sandbox, threaded_sandbox.sandbox.workspace
    page = Browser(chrome, sb)
    chrome.get(sb.sandbox.url)
    page.shown('#channel-list li[data-name="general"]')
    page.say("/incident drill db-down @bob")
    page.open_channel("drill-")
    assert "DRILL — not a real incident" in page.text("#messages .msg.pinned")
    page.message("PostgresDown")
    page.message("Nobody real is paged")
    page.say("/incident drill stop")
    scorecard = page.message("Drill scorecard")
    assert "Drill scorecard: Database down (db-down)" in scorecard.text
    assert "% of targets met" in scorecard.text
    drill = sb.read(lambda: next(c for c in ws.channels.values() if c.name.startswith("drill-")))
    assert all(m.text.startswith("[DRILL]") for m in sb.read(lambda: list(drill.messages)))
    assert page.problems() == []
