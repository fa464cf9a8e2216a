"""Change tracking (issue 20) end to end: deploys told over `POST /webhooks/deployments` (GitHub's signed
`deployment_status`, a pipeline's JSON with the bearer token) and by `incidentbot deploy record`; the
what-changed post at declare, the Suspected cause mark (once under double clicks) and the rollback it
offers, with the previous version filled in; `/incident changes [hours]`; a deploy during an incident.

The example config's `checkout` service has a rollback (`deployment-failure` runbook, step
`rollback-to-revision`, `revision` = the previous version).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.changes.store import DeployStore
from bot.cli.main import run as cli
from bot.config import AppConfig, load_config
from bot.domain import EventKind, Incident
from bot.standin import RunningStandin, eventually
from bot.standin.state import message_text
from tests.fixtures_bot import ALICE, BOB, EXAMPLE_CONFIG, BotUnderTest, bot_settings, running_bot
from tests.test_lifecycle import declare

HOOK = "/webhooks/deployments"
TOKEN = "deploy-token"
GITHUB_SECRET = "It's a Secret to Everybody"


def github_event(
    deployment_id: int, state: str, ref: str, at: datetime, repo: str = "example/checkout-web"
) -> dict[str, Any]:
    """A `deployment_status` delivery as GitHub documents it (the fields read here, and a few others)."""
    owner, name = repo.split("/")
    return {
        "action": "created",
        "deployment_status": {
            "id": deployment_id * 10 + len(state),
            "state": state,
            "environment": "production",
            "target_url": f"https://ci.example.com/runs/{deployment_id}",
            "created_at": at.isoformat().replace("+00:00", "Z"),
        },
        "deployment": {
            "id": deployment_id,
            "sha": "a" * 40,
            "ref": ref,
            "task": "deploy",
            "payload": {},
            "environment": "production",
            "created_at": at.isoformat().replace("+00:00", "Z"),
        },
        "repository": {"id": 1, "name": name, "full_name": repo, "owner": {"login": owner}},
        "sender": {"login": "octocat"},
    }


def signed(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(bot: BotUnderTest, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(bot.url + HOOK, data=body, headers=headers) as r,
    ):
        return r.status, await r.json()


async def github(
    bot: BotUnderTest, event: dict[str, Any], signature: str | None = None
) -> tuple[int, dict[str, Any]]:
    body = json.dumps(event).encode()
    headers = {
        "X-GitHub-Event": "deployment_status",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": signature or signed(body),
        "Content-Type": "application/json",
    }
    return await post(bot, body, headers)


async def generic(
    bot: BotUnderTest, body: dict[str, Any], token: str | None = TOKEN
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    return await post(bot, json.dumps(body).encode(), headers)


@pytest.fixture
async def deploy_bot(database_url: str, standin: RunningStandin, app_config: AppConfig) -> Any:
    settings = bot_settings(database_url, standin, webhook_token=TOKEN, github_webhook_secret=GITHUB_SECRET)
    async with running_bot(settings, app_config, standin.workspace) as under_test:
        yield under_test


def store(bot: BotUnderTest) -> DeployStore:
    return bot.runtime.changes.store


async def test_github_deliveries_are_verified_deduplicated_and_update_one_deploy(
    deploy_bot: BotUnderTest,
) -> None:
    bot = deploy_bot
    at = datetime.now(UTC) - timedelta(hours=1)
    started = github_event(7, "in_progress", "v1.4.2", at)
    assert (await github(bot, started))[0] == 200
    status, answer = await github(bot, started)  # GitHub's "Redeliver"
    assert (status, answer["result"]) == (200, "duplicate")
    done = github_event(7, "success", "v1.4.2", at + timedelta(minutes=4))
    status, answer = await github(bot, done)
    assert (status, answer["result"], answer["service"]) == (200, "updated", "checkout")
    [deploy] = await store(bot).between(at - timedelta(hours=1), at + timedelta(hours=1))
    assert (deploy.service, deploy.version, deploy.status) == ("checkout", "v1.4.2", "success")
    assert deploy.deployed_at == at + timedelta(minutes=4)  # lead time runs to the success
    assert deploy.url == "https://ci.example.com/runs/7" and deploy.commit == "a" * 40
    # a forged or tampered delivery changes nothing
    forged = github_event(8, "success", "v9.9.9", at)
    status, answer = await github(bot, forged, signature=signed(b"something else"))
    assert status == 401 and "does not match" in answer["error"]
    status, answer = await github(bot, forged, signature="sha256=" + "0" * 64)
    assert status == 401
    assert len(await store(bot).between(at - timedelta(hours=1), at + timedelta(hours=1))) == 1
    # GitHub's ping and events not read
    body = b'{"zen": "Design for failure."}'
    ping = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": signed(body)}
    assert await post(bot, body, ping) == (200, {"status": "ok", "result": "pong"})
    push = {"X-GitHub-Event": "push", "X-Hub-Signature-256": signed(body)}
    assert (await post(bot, body, push))[0] == 202


async def test_github_deliveries_are_refused_without_the_secret(
    database_url: str, standin: RunningStandin, app_config: AppConfig
) -> None:
    settings = bot_settings(database_url, standin, webhook_token=TOKEN)
    async with running_bot(settings, app_config, standin.workspace) as bot:
        status, answer = await github(bot, github_event(1, "success", "v1", datetime.now(UTC)))
        assert status == 401 and "INCIDENTBOT_GITHUB_WEBHOOK_SECRET" in answer["error"]


async def test_generic_notices_need_the_token_and_say_what_is_wrong(deploy_bot: BotUnderTest) -> None:
    bot = deploy_bot
    body = {"service": "checkout-web", "version": "v2", "status": "Succeeded", "commit": "abc123"}
    assert (await generic(bot, body, token=None))[0] == 401
    assert (await generic(bot, body, token="wrong"))[0] == 401
    status, answer = await generic(bot, {"service": "checkout"})
    assert status == 400 and "version" in answer["error"]
    status, answer = await generic(bot, {"service": "checkout", "version": "v2", "status": "meh"})
    assert status == 400 and "unknown status 'meh'" in answer["error"]
    status, answer = await generic(bot, body)
    assert (status, answer["result"], answer["service"]) == (200, "created", "checkout")  # the alias
    assert (await generic(bot, body))[1]["result"] == "duplicate"
    status, answer = await generic(bot, {"service": "ledger", "version": "1"})
    assert status == 200 and "unknown service 'ledger'" in answer["warning"]


def test_the_cli_records_a_deploy_with_the_version_it_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTBOT_CONFIG", str(EXAMPLE_CONFIG))
    sources = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"]
    assert cli(["db", "upgrade", *sources]) == 0
    common = ["deploy", "record", *sources, "--service", "checkout"]
    assert cli([*common, "--version", "v41", "--deployed-at", "2026-12-01T10:00:00Z"]) == 0
    second = ["--version", "v42", "--commit", "b" * 40, "--commit-time", "2026-12-01T09:00:00+01:00"]
    assert cli([*common, *second]) == 0
    out = capsys.readouterr().out
    assert "created: deploy #2 checkout v42 (production, success), replacing v41" in out
    assert cli([*common, *second]) == 0
    assert "duplicate: deploy #2" in capsys.readouterr().out
    assert cli([*common, "--version", "v43", "--status", "meh"]) == 2
    assert "unknown status 'meh'" in capsys.readouterr().err
    assert cli([*common, "--version", "v43", "--commit-time", "yesterday"]) == 2
    assert "commit_time" in capsys.readouterr().err
    assert cli([*common.copy()[:-1], "ledger", "--version", "1"]) == 0
    assert "'ledger' is not a known service" in capsys.readouterr().err


async def record(
    bot: BotUnderTest, version: str, ago: timedelta, service: str = "checkout", **more: Any
) -> None:
    at = (datetime.now(UTC) - ago).isoformat()
    status, answer = await generic(bot, {"service": service, "version": version, "deployed_at": at, **more})
    assert status == 200, answer


def texts(bot: BotUnderTest, incident: Incident) -> list[str]:
    return [message_text(m) for m in bot.workspace.messages(incident.channel_id or "")]


def what_changed_post(bot: BotUnderTest, incident: Incident) -> Any:
    posts = [
        m for m in bot.workspace.messages(incident.channel_id or "") if "What changed" in message_text(m)
    ]
    return posts[-1] if posts else None


async def test_declare_posts_what_changed_and_a_suspected_cause_offers_the_rollback(
    deploy_bot: BotUnderTest,
) -> None:
    bot = deploy_bot
    await record(bot, "40", timedelta(hours=30))  # before the window
    await record(bot, "41", timedelta(hours=5))
    await record(bot, "42", timedelta(minutes=20), commit="c" * 40)
    await record(bot, "v7", timedelta(hours=1), service="search")  # another service
    await record(bot, "43", timedelta(hours=2), environment="staging")  # not production
    incident = await declare(bot)
    post_ = await eventually(lambda: what_changed_post(bot, incident))
    shown = message_text(post_)
    assert shown.index("checkout* 42") < shown.index("checkout* 41") and "42 (from 41)" in shown
    # "checkout* 43", not "43": a deploy time shown in the post may fall on minute 43
    assert "checkout* 40 " not in shown and "search" not in shown and "checkout* 43" not in shown
    buttons = [
        b["accessory"] for b in post_.blocks if b.get("accessory", {}).get("action_id") == "change_suspect"
    ]
    assert len(buttons) == 2
    [posted] = [
        e
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.CHANGES_POSTED
    ]
    assert [d["version"] for d in posted.data["deploys"]] == ["42", "41"]
    # two people click Suspected cause on 42 at once: one mark, one offer
    v42 = buttons[0]["value"]
    clicks = [
        bot.driver.click(
            user, "change_suspect", channel_id=incident.channel_id, message_ts=post_.ts, value=v42
        )
        for user in (ALICE, BOB)
    ]
    assert all(r.status == 200 for r in await asyncio.gather(*clicks))

    def offered() -> Any:
        found = [
            m
            for m in bot.workspace.messages(incident.channel_id or "")
            if "Roll *checkout* back" in message_text(m)
        ]
        return found or None

    [offer] = await eventually(offered)
    marks = [
        e
        for e in await bot.runtime.incidents.store.timeline(incident.id)
        if e.kind == EventKind.CHANGE_SUSPECTED
    ]
    assert len(marks) == 1 and marks[0].data["version"] == "42" and marks[0].data["previous"] == "41"
    assert sum("as the suspected cause" in t for t in texts(bot, incident)) == 1
    assert "Roll back to 41" in json.dumps(offer.blocks)
    # the offer runs the rollback step with the previous version (it is dangerous: it waits for approval)
    await bot.driver.click(ALICE, "change_roll_back", channel_id=incident.channel_id, message_ts=offer.ts)

    async def asked() -> Any:
        timeline = await bot.runtime.incidents.store.timeline(incident.id)
        return [e for e in timeline if e.kind == EventKind.RUNBOOK_STEP_APPROVAL] or None

    [approval] = await eventually(asked)
    assert approval.data["step"] == "rollback-to-revision"
    assert approval.data["params"] == {"deployment": "checkout", "namespace": "prod", "revision": "41"}
    # the post-mortem lists the deploys, the suspected cause and the rollback asked for
    await record(bot, "44", timedelta(0))
    await eventually(lambda: any("Deploy during this incident" in t for t in texts(bot, incident)))
    document = await bot.runtime.postmortems.markdown(incident.id)
    changed = document.split("## What changed", 1)[1].split("##", 1)[0]
    rows = [line for line in changed.splitlines() if line.startswith("| ") and "checkout" in line]
    assert [r.split("|")[2].strip() for r in rows] == [
        "**checkout 44** (from 42)",
        "**checkout 42** (from 41)",
        "**checkout 41** (from 40)",
    ]
    assert "during the incident" in rows[0] and "**suspected cause** (marked by" in rows[1]
    assert "`cccccccccccc`" in rows[1] and "suspected" not in rows[2]
    assert "Marked **checkout 42** (from 41) as the **suspected cause**" in document
    assert "Rollback requested:" in document and "revision=41" in document
    # the list again, wider, shows the older deploy; bad hours are refused
    await bot.driver.slash(ALICE, incident.channel_id or "", "changes 48")

    def listed() -> Any:
        found = [
            m
            for m in bot.workspace.ephemerals_for(ALICE, incident.channel_id)
            if "What changed" in message_text(m)
        ]
        return found[-1] if found else None

    again = message_text(await eventually(listed))
    assert "40" in again and "suspected cause" in again
    response = await bot.driver.slash(ALICE, incident.channel_id or "", "changes soon")
    assert "Usage: `/incident changes [hours]`" in json.dumps(response.json or {}) + "".join(
        message_text(m) for m in bot.workspace.ephemerals_for(ALICE, incident.channel_id)
    )


async def test_a_deploy_during_an_incident_is_on_its_timeline_and_in_its_channel(
    deploy_bot: BotUnderTest,
) -> None:
    bot = deploy_bot
    incident = await declare(bot)
    await record(bot, "v44", timedelta(0))
    await record(bot, "v9", timedelta(0), service="search")

    async def recorded() -> Any:
        timeline = await bot.runtime.incidents.store.timeline(incident.id)
        return [e for e in timeline if e.kind == EventKind.DEPLOY_RECORDED] or None

    [event] = await eventually(recorded)
    assert event.data["version"] == "v44"
    await eventually(
        lambda: any("Deploy during this incident" in t and "v44" in t for t in texts(bot, incident))
    )
    assert not any("v9" in t for t in texts(bot, incident))


def test_examples_load_the_changes_section() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert config.changes.service_for("checkout-web") == "checkout"
    assert config.changes.service_for("x", "example/checkout-web") == "checkout"
