"""Follow-ups leave Slack: post-mortems committed to a real git repository (or opened as a GitHub pull
request), action items opened as GitHub or Jira issues, against local contract stand-ins of both APIs."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import AppConfig
from bot.domain import EventKind, Incident
from bot.postmortem.settings import (
    ExportSettings,
    GitHubIssues,
    GitPublishing,
    JiraIssues,
    PullRequestSettings,
)
from bot.standin import RunningStandin, eventually
from bot.standin.trackers import GITHUB_TOKEN, JIRA_EMAIL, JIRA_TOKEN, Trackers, running_trackers
from tests.fixtures_bot import ALICE, BotUnderTest, bot_settings, running_bot
from tests.test_lifecycle import declare


def git(*args: str | Path) -> str:
    done = subprocess.run(["git", *map(str, args)], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """The team's repository: a bare one with a README on main, as a hosted one would be."""
    origin = tmp_path / "postmortems.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", origin)
    seed = tmp_path / "seed"
    git("clone", "--quiet", origin, seed)
    (seed / "README.md").write_text("Post-mortems\n")
    git("-C", seed, "add", "README.md")
    git("-C", seed, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "--quiet", "-m", "start")
    git("-C", seed, "push", "--quiet", "origin", "HEAD:main")
    return origin


@pytest.fixture
async def trackers() -> AsyncIterator[Trackers]:
    async with running_trackers() as state:
        yield state


def configured(
    app_config: AppConfig, tmp_path: Path, trackers: Trackers, git_settings: GitPublishing | None
) -> AppConfig:
    export = ExportSettings(
        github=GitHubIssues(repo="acme/platform", api_url=trackers.url),
        jira=JiraIssues(url=trackers.url, project="OPS"),
    )
    postmortems = app_config.postmortems.model_copy(
        update={"directory": tmp_path / "postmortems", "git": git_settings, "export": export}
    )
    return app_config.model_copy(update={"postmortems": postmortems})


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("JIRA_EMAIL", JIRA_EMAIL)
    monkeypatch.setenv("JIRA_API_TOKEN", JIRA_TOKEN)


async def resolved_incident(bot: BotUnderTest) -> Incident:
    incident = await declare(bot)
    await bot.driver.slash(ALICE, incident.channel_id or "", "resolve Rolled back.")
    return incident


async def test_publishing_commits_the_post_mortem_to_the_teams_repository(
    database_url: str,
    standin: RunningStandin,
    app_config: AppConfig,
    tmp_path: Path,
    bare: Path,
    trackers: Trackers,
) -> None:
    settings = GitPublishing(repository=str(bare), branch="main", path="incidents")
    config = configured(app_config, tmp_path, trackers, settings)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as bot:
        incident = await declare(bot)
        said = await bot.runtime.postmortems.publish(incident.id, ALICE)
        name = (await bot.runtime.postmortems.store.get(incident.id)).path.rsplit("/", 1)[-1]  # type: ignore[union-attr]
        assert "Committed to git: main at" in said
        assert git("--git-dir", bare, "log", "--format=%s|%an", "main").splitlines()[0] == (
            f"Post-mortem of {incident.reference}: {incident.title}|incidentbot"
        )
        stored = git("--git-dir", bare, "show", f"main:incidents/{name}")
        assert stored.startswith(f"# Post-mortem: {incident.reference}") and "Published" in stored
        timeline = await bot.runtime.incidents.store.timeline(incident.id)
        assert any(e.kind == EventKind.POSTMORTEM_COMMITTED for e in timeline)

        # Publishing again updates the same file (the timeline grew by the publication itself).
        again = await bot.runtime.postmortems.publish(incident.id, ALICE)
        assert "Committed to git: main at" in again
        assert len(git("--git-dir", bare, "log", "--format=%H", "main").splitlines()) == 3
        assert git("--git-dir", bare, "ls-tree", "--name-only", "main:incidents") == name
        # The same document twice is one commit: the publisher commits nothing the second time.
        publisher = bot.runtime.postmortems.publisher
        assert publisher is not None
        first = await publisher.publish("same.md", "text\n", "same", "")
        second = await publisher.publish("same.md", "text\n", "same", "")
        assert first.commit is not None and second.commit is None


async def test_a_pull_request_is_opened_and_reused_and_git_refusals_leave_the_publication_standing(
    database_url: str,
    standin: RunningStandin,
    app_config: AppConfig,
    tmp_path: Path,
    bare: Path,
    trackers: Trackers,
    tokens: None,
) -> None:
    pull = PullRequestSettings(repo="acme/postmortems", api_url=trackers.url)
    settings = GitPublishing(repository=str(bare), pull_request=pull)
    config = configured(app_config, tmp_path, trackers, settings)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as bot:
        incident = await declare(bot)
        said = await bot.runtime.postmortems.publish(incident.id, ALICE)
        assert "Committed to git: pull request https://github.com/acme/postmortems/pull/101" in said
        [pr] = trackers.pulls
        assert pr["base"] == "main" and pr["head"].startswith("postmortem/")
        assert git(
            "--git-dir", bare, "ls-tree", "--name-only", f"{pr['head']}:postmortems"
        )  # the file, on its branch
        assert git("--git-dir", bare, "log", "--format=%s", "main") == "start"  # main untouched

        await bot.driver.slash(ALICE, incident.channel_id or "", "note one more fact")
        await eventually(lambda: _noted(bot, incident))
        again = await bot.runtime.postmortems.publish(incident.id, ALICE)  # 422 "already exists": reuse it
        assert "pull/101" in again and len(trackers.pulls) == 1
        bookmarks = standin.workspace.channels[incident.channel_id or ""].bookmarks
        assert [b["link"] for b in bookmarks if b["title"] == "Post-mortem"] == [
            "https://github.com/acme/postmortems/pull/101"
        ]  # in the channel's bookmarks, once

        trackers.fail_next(401, {"message": "Bad credentials"})
        await bot.driver.slash(ALICE, incident.channel_id or "", "note and another")
        await eventually(lambda: _noted(bot, incident, 2))
        refused = await bot.runtime.postmortems.publish(incident.id, ALICE)
        assert refused.startswith(f"Published the post-mortem of {incident.reference}")
        assert (
            "GitHub refused to open a pull request in acme/postmortems (HTTP 401: the token was refused"
            in refused
        )


async def _noted(bot: BotUnderTest, incident: Incident, count: int = 1) -> bool:
    timeline = await bot.runtime.incidents.store.timeline(incident.id)
    return sum(e.kind == EventKind.NOTE_ADDED for e in timeline) >= count


@pytest.fixture
async def export_bot(
    database_url: str,
    standin: RunningStandin,
    app_config: AppConfig,
    tmp_path: Path,
    trackers: Trackers,
    tokens: None,
) -> AsyncIterator[BotUnderTest]:
    config = configured(app_config, tmp_path, trackers, None)
    async with running_bot(bot_settings(database_url, standin), config, standin.workspace) as bot:
        yield bot


async def add_item(bot: BotUnderTest, incident: Incident, text: str) -> int:
    await bot.driver.slash(ALICE, incident.channel_id or "", f"action {text} 2026-12-31")
    items = await eventually(lambda: _items(bot, incident, text))
    return items[0].id


async def _items(bot: BotUnderTest, incident: Incident, text: str) -> list:  # type: ignore[type-arg]
    return [i for i in await bot.runtime.actions.for_incident(incident.id) if i.text == text]


async def test_action_items_become_github_and_jira_issues_with_the_link_kept(
    export_bot: BotUnderTest, trackers: Trackers
) -> None:
    bot = export_bot
    incident = await declare(bot)
    channel = incident.channel_id or ""
    first = await add_item(bot, incident, "Alert on missing headers")
    await bot.driver.slash(ALICE, channel, f"action export {first} github")
    item = await eventually(lambda: _exported(bot, first))
    assert item.external_url == "https://github.com/acme/platform/issues/1"
    [issue] = trackers.issues
    assert issue["title"] == "Alert on missing headers" and issue["labels"] == [
        {"name": "incident-follow-up"}
    ]
    assert incident.reference in issue["body"] and "Due: 2026-12-31" in issue["body"]
    await eventually(
        lambda: any("exported action item" in str(m.text) for m in bot.workspace.messages(channel))
    )

    second = await add_item(bot, incident, "Add a canary for checkout")
    await bot.driver.slash(ALICE, channel, f"action export #{second} jira")
    item = await eventually(lambda: _exported(bot, second))
    assert item.external_url == f"{trackers.url}/browse/OPS-1"
    fields = trackers.jira_issues[0]["fields"]
    assert fields["summary"] == "Add a canary for checkout" and fields["duedate"] == "2026-12-31"
    assert fields["description"]["type"] == "doc"  # Atlassian Document Format, as REST v3 requires
    assert bot.workspace.errors() == []


async def _exported(bot: BotUnderTest, item_id: int):  # type: ignore[no-untyped-def]
    item = await bot.runtime.actions.store.get(item_id)
    return item if item and item.external_url else None


REFUSALS = [
    (401, {"message": "Bad credentials"}, {}, "(HTTP 401: the token was refused"),
    (404, {"message": "Not Found"}, {}, "(HTTP 404: not found: check the repository or project name"),
    (
        422,
        {"message": "Validation Failed", "errors": [{"message": "labels are invalid"}]},
        {},
        "(HTTP 422: Validation Failed; labels are invalid)",
    ),
    (429, {"message": "API rate limit exceeded"}, {"Retry-After": "120"}, "rate limited; try again in 120 s"),
    (
        400,
        {"errorMessages": [], "errors": {"project": "valid project is required"}},
        {},
        "project: valid project",
    ),
]


@pytest.mark.parametrize("target", ["github", "jira"])
@pytest.mark.parametrize(("status", "body", "headers", "expected"), REFUSALS)
async def test_refusals_are_said_and_nothing_is_stored(
    export_bot: BotUnderTest,
    trackers: Trackers,
    target: str,
    status: int,
    body: dict,  # type: ignore[type-arg]
    headers: dict,  # type: ignore[type-arg]
    expected: str,
) -> None:
    bot = export_bot
    incident = await declare(bot)
    item_id = await add_item(bot, incident, "Fix the thing")
    trackers.fail_next(status, body, headers)
    response = await bot.driver.slash(ALICE, incident.channel_id or "", f"action export {item_id} {target}")
    assert response.status == 200
    said = await eventually(
        lambda: next((r for r in bot.workspace.responses if "was not exported" in r.text), None)
    )
    vendor = {
        "github": "GitHub refused to open an issue in acme/platform",
        "jira": "Jira refused to create an issue in OPS",
    }
    assert vendor[target] in said.text and expected in said.text and "Nothing was changed." in said.text
    item = await bot.runtime.actions.store.get(item_id)
    assert item is not None and item.external_url is None


async def test_a_short_retry_after_is_waited_for_once(export_bot: BotUnderTest, trackers: Trackers) -> None:
    bot = export_bot
    incident = await declare(bot)
    item_id = await add_item(bot, incident, "Retry me")
    trackers.fail_next(429, {"message": "secondary rate limit"}, {"Retry-After": "1"})
    said = await bot.runtime.actions.export(item_id, "jira", ALICE)
    assert said.endswith("/browse/OPS-1.")
    assert [c[0] for c in trackers.calls] == ["POST", "POST"]
