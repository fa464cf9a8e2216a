"""The config file's `postmortems:` section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from bot.settings import Duration, Strict


class PullRequestSettings(Strict):
    """Open a pull request on GitHub instead of committing to the branch directly."""

    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    """owner/name on GitHub."""
    token_env: str = "GITHUB_TOKEN"
    """Environment variable holding a token allowed to open pull requests."""
    api_url: str = "https://api.github.com"


class GitPublishing(Strict):
    """Commit every published post-mortem to a git repository, where the team reviews its documents."""

    repository: str
    """What `git clone` takes: a URL (credentials via the git credential helper or the URL) or a path."""
    branch: str = "main"
    path: str = "postmortems"
    """Folder inside the repository."""
    author_name: str = "incidentbot"
    author_email: str = "incidentbot@localhost"
    pull_request: PullRequestSettings | None = None


class GitHubIssues(Strict):
    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    token_env: str = "GITHUB_TOKEN"
    api_url: str = "https://api.github.com"
    labels: list[str] = ["incident-follow-up"]


class JiraIssues(Strict):
    url: str
    """The site, e.g. https://example.atlassian.net."""
    project: str
    """Project key, e.g. OPS."""
    issue_type: str = "Task"
    email_env: str = "JIRA_EMAIL"
    token_env: str = "JIRA_API_TOKEN"
    """Jira Cloud's basic auth: the account's e-mail and an API token."""


class ExportSettings(Strict):
    """Where action items can be exported (`/incident action export <n> github|jira`)."""

    github: GitHubIssues | None = None
    jira: JiraIssues | None = None


class PostmortemsConfig(Strict):
    directory: Path = Path("postmortems")
    """Published post-mortems are written here (relative to the config file), one file per incident with a
    stable name, so a team can commit them."""
    draft_within: Duration = timedelta(hours=24)
    review_within: Duration = timedelta(hours=72)
    publish_within: Duration = timedelta(days=7)
    """After resolution; the Incident Commander is reminded in the channel when a stage is late."""
    git: GitPublishing | None = None
    export: ExportSettings = ExportSettings()
