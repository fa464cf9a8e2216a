"""Local contract stand-ins for GitHub's REST API (issues, pull requests) and Jira Cloud's REST API v3.

Built from the vendors' published shapes: GitHub answers `POST /repos/{owner}/{repo}/issues` with 201 and
the issue (`number`, `html_url`), refuses a missing `title` with 422 and `errors`, a bad token with 401
`{"message": "Bad credentials"}`, an unknown repository with 404 `{"message": "Not Found"}`, and a second
pull request for the same head with 422 "A pull request already exists"; Jira answers `POST
/rest/api/3/issue` with 201 `{id, key, self}`, a description that is not Atlassian Document Format or an
unknown project with 400 `errors`, bad basic auth with 401. `fail_next` queues answers such as a 429 with
`Retry-After`. Every request is recorded (`calls`).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.standin.serving import serving

GITHUB_TOKEN = "ghp_standin0000000000000000000000000000"
JIRA_EMAIL, JIRA_TOKEN = "bot@example.com", "ATATT-standin"


@dataclass
class Trackers:
    repos: set[str] = field(default_factory=lambda: {"acme/platform", "acme/postmortems"})
    projects: set[str] = field(default_factory=lambda: {"OPS"})
    issues: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    jira_issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    queued: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def fail_next(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.queued.append((status, body or {"message": "injected"}, headers or {}))


def _github_auth(request: web.Request) -> web.Response | None:
    if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
        return web.json_response({"message": "Bad credentials", "status": "401"}, status=401)
    return None


def _jira_auth(request: web.Request) -> web.Response | None:
    expected = "Basic " + base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return web.Response(status=401, text="Client must be authenticated to access this resource.")
    return None


def create_trackers_app(state: Trackers) -> web.Application:
    async def record(request: web.Request) -> tuple[dict[str, Any] | None, web.Response | None]:
        body = await request.json() if request.can_read_body else None
        state.calls.append((request.method, request.path_qs, body))
        if state.queued:
            status, answer, headers = state.queued.pop(0)
            return body, web.json_response(answer, status=status, headers=headers)
        return body, None

    async def github(request: web.Request) -> tuple[dict[str, Any] | None, str, web.Response | None]:
        """What every GitHub call does first: record it, then refuse a bad token or an unknown repo."""
        body, injected = await record(request)
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        refused = injected or _github_auth(request)
        if refused is None and repo not in state.repos:
            refused = web.json_response({"message": "Not Found"}, status=404)
        return body, repo, refused

    async def issue(request: web.Request) -> web.Response:
        body, repo, refused = await github(request)
        if refused:
            return refused
        if not isinstance(body, dict) or not body.get("title"):
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                status=422,
            )
        number = len(state.issues) + 1
        created = {
            "number": number,
            "html_url": f"https://github.com/{repo}/issues/{number}",
            "title": body["title"],
            "body": body.get("body"),
            "labels": [{"name": name} for name in body.get("labels", [])],
            "state": "open",
            "repo": repo,
        }
        state.issues.append(created)
        return web.json_response(created, status=201)

    async def pulls(request: web.Request) -> web.Response:
        body, repo, refused = await github(request)
        if refused:
            return refused
        if request.method == "GET":
            head = request.query.get("head", "").split(":", 1)[-1]
            return web.json_response([p for p in state.pulls if p["head"] == head and p["repo"] == repo])
        assert isinstance(body, dict)
        exists = f"A pull request already exists for {repo.split('/')[0]}:{body.get('head')}."
        if any(p["head"] == body.get("head") and p["repo"] == repo for p in state.pulls):
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": exists,
                        }
                    ],
                },
                status=422,
            )
        number = 100 + len(state.pulls) + 1
        created = {
            "number": number,
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "head": body.get("head"),
            "base": body.get("base"),
            "title": body.get("title"),
            "repo": repo,
        }
        state.pulls.append(created)
        return web.json_response(created, status=201)

    async def jira_issue(request: web.Request) -> web.Response:
        body, injected = await record(request)
        refused = injected or _jira_auth(request)
        if refused:
            return refused
        fields = (body or {}).get("fields", {})
        errors: dict[str, str] = {}
        if fields.get("project", {}).get("key") not in state.projects:
            errors["project"] = "valid project is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        description = fields.get("description")
        if description is not None and (
            not isinstance(description, dict) or description.get("type") != "doc"
        ):
            errors["description"] = "Operation value must be an Atlassian Document"
        if errors:
            return web.json_response({"errorMessages": [], "errors": errors}, status=400)
        number = len(state.jira_issues) + 1
        key = f"{fields['project']['key']}-{number}"
        state.jira_issues.append({"key": key, "fields": fields})
        return web.json_response(
            {"id": str(10000 + number), "key": key, "self": f"{state.url}/rest/api/3/issue/{10000 + number}"},
            status=201,
        )

    app = web.Application()
    app.router.add_post("/repos/{owner}/{repo}/issues", issue)
    app.router.add_route("*", "/repos/{owner}/{repo}/pulls", pulls)
    app.router.add_post("/rest/api/3/issue", jira_issue)
    return app


@asynccontextmanager
async def running_trackers() -> AsyncIterator[Trackers]:
    state = Trackers()
    async with serving(create_trackers_app(state)) as url:
        state.url = url
        yield state
